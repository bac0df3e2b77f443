"""`python -m tutor` is the same as the `dltutor` command."""

from tutor.cli import main

if __name__ == "__main__":
    main()
