"""Package data: the shipped model bundle, the window icon and the desktop entry."""
