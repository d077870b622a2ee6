"""Reports: the JSON model written out, the HTML and terminal views, their words."""
