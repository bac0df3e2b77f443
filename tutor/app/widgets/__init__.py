"""The main screen's widgets: course tree, lesson view, check panel, top bar."""
