"""A legacy Classify program, unchanged but for the import: what ``classify-shim demo`` runs.

It prints results the way the SDK 0.3 reference examples do, so the demo shows exactly what a
user's existing code would print (and the warning it would get, blamed on the call below).
"""

from __future__ import annotations

from typing import Any, List

CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]


def show_clip(clip: Any) -> None:
    print(f"    Start: {clip.start}")
    print(f"    End: {clip.end}")
    print(f"    Score: {clip.score}")
    print(f"    Option: {clip.option}")
    print(f"    Prompt: {clip.prompt}")
    print(f"    Thumbnail URL: {clip.thumbnail_url or 'N/A'}")


def show_class(class_data: Any) -> None:
    print(f"  Class name: {class_data.name}")
    print(f"  Score: {class_data.score}")
    print(f"  Duration ratio: {class_data.duration_ratio}")
    if class_data.detailed_scores:
        scores = class_data.detailed_scores
        print(f"  Detailed scores: max {scores.max_score}, avg {scores.avg_score}, normalized {scores.normalized_score}")
    if class_data.clips:
        print("  Clips:")
        for clip in class_data.clips[:3]:
            show_clip(clip)


def show_page(result: Any) -> None:
    print("Classification results:")
    for video_data in result.data:
        print(f"Video ID: {video_data.video_id}")
        for class_data in video_data.classes:
            show_class(class_data)
        print()
    info = result.page_info
    print(f"Limit per page: {info.limit_per_page}")
    print(f"Total results: {info.total_results}")
    print(f"Page expired at: {info.page_expired_at}")
    print(f"Next page token: {info.next_page_token or 'N/A'}")


def run(client: Any, video_ids: List[str]) -> Any:
    """Classify, print the first page, then walk the remaining pages with ``next()``."""
    result = client.classify.videos(
        video_ids=video_ids,
        options=["visual", "conversation"],
        classes=CLASSES,
        include_clips=True,
        show_detailed_score=True,
        page_limit=2,
    )
    show_page(result)
    pages = [list(result.data)]
    while True:
        try:
            data = next(result)
        except StopIteration:
            break
        pages.append(list(data))
        print(f"Next page: {[video.video_id for video in data]}")
    return pages
