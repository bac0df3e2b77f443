"""A lesson as one Markdown document, shared by `dltutor show` and the TUI's lesson pane."""

from __future__ import annotations

from typing import Callable

from tutor.course import Lesson

LETTERS = "abcdefghij"


def _bullets(title: str, items: tuple[str, ...]) -> list[str]:
    return [f"## {title}", "", *(f"- {i}" for i in items), ""] if items else []


def references_markdown(lesson: Lesson) -> list[str]:
    if not lesson.references:
        return []
    lines = ["## References", ""]
    for ref in lesson.references:
        who = ", ".join(x for x in (ref.authors, str(ref.year) if ref.year else "") if x)
        line = f"- *{ref.kind}*: {ref.title}" + (f" ({who})" if who else "")
        lines.append(line + (f" <{ref.url}>" if ref.url else ""))
    return lines + [""]


def quiz_markdown(lesson: Lesson) -> list[str]:
    """The questions, then the answers under their own heading (read them after trying)."""
    if not lesson.quiz:
        return []
    lines = ["## Check yourself", ""]
    for n, item in enumerate(lesson.quiz, 1):
        lines.append(f"{n}. {item.question}")
        lines += [f"   - ({LETTERS[i]}) {choice}" for i, choice in enumerate(item.choices)]
    lines += ["", "### Answers", ""]
    for n, item in enumerate(lesson.quiz, 1):
        explain = f" — {item.explain.strip()}" if item.explain else ""
        lines.append(f"{n}. ({LETTERS[item.answer]}){explain}")
    return lines + [""]


def lesson_markdown(lesson: Lesson, head: bool = True, position: str = "",
                    render: Callable[[str], str] = lambda text: text) -> str:
    """Title, summary, objectives (with `head`), body, key learnings, exercise, quiz, references.

    `position` is the lesson's place in the active track ("day 13"); `render` writes the
    {{lesson:slug}} references of the prose as places in that track. The TUI draws its own
    head (title, objectives, tasks), so it passes head=False.
    """
    parts: list[str] = []
    if head:
        place = f"{position[:1].upper()}{position[1:]}: " if position else ""
        parts += [f"# {place}{lesson.title}", "", f"*{lesson.summary}*", ""]
        parts += _bullets("Objectives", lesson.objectives)
    parts += [lesson.body.rstrip(), ""]
    parts += _bullets("Key learnings", lesson.key_learnings)
    if head:
        tasks = [f"{i}. **{t.title}** — {t.description}" for i, t in enumerate(lesson.exercise.tasks, 1)]
        parts += ["## Your exercise", "", f"Files: {', '.join(lesson.exercise.files)}", "", *tasks, ""]
    parts += quiz_markdown(lesson)
    parts += references_markdown(lesson)
    return render("\n".join(parts))
