"""Access control: Casbin roles and policies, and the region scope pushed into SQL."""
