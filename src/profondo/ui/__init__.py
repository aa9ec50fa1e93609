"""The browser workbench: drawings of networks, live checks of architecture files, and the pages
that show them."""
