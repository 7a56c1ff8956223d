"""Selection methods for image-text pools (filled in below)."""
