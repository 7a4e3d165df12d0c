"""The message: signed links, MIME assembly, DKIM, and `outgoing`, the one maker of outgoing bytes."""
