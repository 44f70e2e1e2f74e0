"""`make bench`: seed a million audit events and measure the service, side by side."""
