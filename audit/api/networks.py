"""Find events by client address: one address, a prefix ("10.1."), or a CIDR range.

PostgreSQL stores GenericIPAddressField as ``inet`` and answers ``<<=`` (is contained by
or equals) from the (ip_address, sequence) b-tree index: its planner turns the operator
into a range of that index. SQLite stores the address as text, where neither a string
range nor LIKE is right for every CIDR (10.1.0.0/20, any IPv6 range in compressed
form), so it asks a small function registered on each connection (audit/receivers.py).
"""

import functools
import ipaddress

from django.core.exceptions import ValidationError
from django.db.models import F, Lookup
from django.utils.translation import gettext_lazy as _

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SQLITE_FUNCTION = "audit_ip_in_network"

INVALID = _(
    "Enter an IP address (10.1.2.3), a prefix (10.1.) or a CIDR range (10.1.0.0/16, 2001:db8::/32)."
)


def _prefix_network(text: str) -> Network:
    """Return the range a dotted IPv4 prefix ("10.1.") or an IPv6 one ("2001:db8:") names."""
    if text.endswith("."):
        parts = text[:-1].split(".")
        if not 1 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
            raise ValueError(text)
        padded = ".".join(parts + ["0"] * (4 - len(parts)))
        return ipaddress.IPv4Network(f"{padded}/{8 * len(parts)}")
    groups = text.rstrip(":").split(":")
    if not 1 <= len(groups) <= 7 or not all(1 <= len(group) <= 4 for group in groups):
        raise ValueError(text)
    padded = ":".join(groups + ["0"] * (8 - len(groups)))
    return ipaddress.IPv6Network(f"{padded}/{16 * len(groups)}")


def parse_network(value: str) -> Network:
    """Return the range an address, prefix or CIDR stands for; raise ValidationError.

    A single address is a /32 (or /128) range; ::ffff:a.b.c.d is a.b.c.d, as addresses
    are stored (audit.recording.client.valid_ip). Host bits of a CIDR are dropped (10.1.2.3/16 is
    10.1.0.0/16), as people write a range around an address they saw.
    """
    text = value.strip()
    try:
        if "%" in text:  # a zone (fe80::1%eth0) names a link on one host, never a client
            raise ValueError(text)
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
        elif text.endswith((".", ":")) and not text.endswith("::"):
            network = _prefix_network(text)
        else:
            address = ipaddress.ip_address(text)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            network = ipaddress.ip_network(address)
    except ValueError:
        raise ValidationError(INVALID, code="invalid") from None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


@functools.lru_cache(maxsize=64)
def _network(text: str) -> Network:
    return ipaddress.ip_network(text)


def address_in_network(address: str | None, network: str) -> bool | None:
    """Say whether a stored address lies in a range (the SQLite function's body)."""
    if address is None:
        return None
    try:
        return ipaddress.ip_address(address) in _network(network)
    except ValueError:
        return False


class InNetwork(Lookup):
    """``address IN network`` for the ip_address column, as each database says it.

    Built with a network already parsed (parse_network), passed as one bound parameter:
    nothing the client typed reaches the SQL text.
    """

    lookup_name = "in_network"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [str(value)]

    def as_sql(self, compiler, connection):
        raise NotImplementedError(f"No address ranges on {connection.vendor}.")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} <<= ({rhs})::inet", [*lhs_params, *rhs_params]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{SQLITE_FUNCTION}({lhs}, {rhs})", [*lhs_params, *rhs_params]


def register_sqlite_function(*, sender, connection, **kwargs) -> None:
    """Give each new SQLite connection the function InNetwork calls."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_FUNCTION, 2, address_in_network, deterministic=True
        )


def in_network(queryset, network: Network):
    """Return the events of a queryset whose client address lies in the range."""
    if network.num_addresses == 1:
        # One address: the plain equality every database answers from the index.
        return queryset.filter(ip_address=str(network.network_address))
    return queryset.filter(InNetwork(F("ip_address"), network))
