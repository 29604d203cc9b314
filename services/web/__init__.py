"""The web app (port 8000): pages for inspectors, county offices and the city, calling the
issues, inspections and notifications services' public APIs with the signed-in person's token."""

SERVICE = "web"
