"""Course-wide invariants that no single file can check: every lesson in a track, no orphans."""

from __future__ import annotations

from tutor.course import Course


def course_problems(course: Course) -> list[str]:
    """What is wrong with the course as a whole (empty when all is well); verify and the tests report it."""
    problems = [f"lessons/{slug}.yaml: {error}" for slug, error in course.broken.items()]
    in_tracks = {slug for track in course.tracks.values() for slug in track.slugs()}
    for slug, lesson in course.lessons.items():
        if slug not in in_tracks and not lesson.standalone:
            problems.append(f"lessons/{slug}.yaml: in no track; add it to one, or mark it `standalone: true`")
    for slug in course.planned:
        if slug not in in_tracks:
            problems.append(f"lessons/planned.yaml: {slug!r} is in no track")
    known = set(course.lessons) | set(course.broken)
    root = course.root
    for folder in ("exercises", "solutions"):
        for path in sorted((root / folder).glob("*")):
            if path.is_dir() and path.name != "__pycache__" and path.name not in known:
                problems.append(f"{folder}/{path.name}/: no lesson of that name (lessons/{path.name}.yaml)")
    for kind, folder in (("check", "checks"), ("mutants", "mutants")):
        for path in sorted((root / folder).glob("*.py" if kind == "check" else "*.yaml")):
            if path.stem not in known:
                problems.append(f"{folder}/{path.name}: no lesson of that name (lessons/{path.stem}.yaml)")
    return problems
