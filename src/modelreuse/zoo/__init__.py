"""Model zoos built on this machine from real data (text and image), and what a zoo yields."""
