"""The programme report as files and pages: HTML with inline SVG charts, CSV, and /admin."""
