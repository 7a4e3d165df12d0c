"""Sending: queue an edition's deliveries, claim them under a lease, hand them to a transport."""
