"""Screens: main (tree, lesson, check), progress, help."""
