"""Files shipped with IOPDesk (fonts, icons, data): installed as the package iopdesk.resources.

Read them through iopdesk.paths.resource_path / resource_text, which also find them in a source
checkout and in the frozen app."""
