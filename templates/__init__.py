# The email and web page templates. Kept at the top of the repository and
# shipped inside the package as `digest.templates` (see pyproject.toml's
# package-dir), so a wheel carries them; read them with importlib.resources.
