"""A plugin that fails to import, as a broken third-party install would."""

raise ImportError("this plugin is broken on purpose")
