"""Network namespaces on one bridge: each host of the deployment its own address."""

import subprocess

BRIDGE = "chaosbr0"
SUBNET = "10.77.0"
# Host name -> last octet. The driver itself (the clients) is .1, on the bridge.
HOSTS = {"db": 10, "s3": 11, "lb": 12, "web1": 21, "web2": 22, "worker1": 31, "worker2": 32}


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def address(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def namespace(host: str) -> str:
    return f"chaos-{host}"


def veth(host: str) -> str:
    """Return the bridge-side end of the host's cable (cut it to cut the host)."""
    return f"cx-{host}"


def create() -> None:
    """Create the bridge and one namespace per host, each with lo and eth0 up."""
    remove()
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    sh("ip", "addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")
    for host in HOSTS:
        ns = namespace(host)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth(host), "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", veth(host), "master", BRIDGE, "up")
        sh("ip", "-n", ns, "addr", "add", f"{address(host)}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def cut(host: str) -> None:
    sh("ip", "link", "set", veth(host), "down")


def restore(host: str) -> None:
    sh("ip", "link", "set", veth(host), "up")


def remove() -> None:
    """Remove every namespace and the bridge this suite creates (idempotent)."""
    for host in HOSTS:
        sh("ip", "link", "del", veth(host), check=False)
        sh("ip", "netns", "del", namespace(host), check=False)
    sh("ip", "link", "del", BRIDGE, check=False)


def in_host(host: str, command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace(host), *command]
