"""Tag a whole music library: parallel, resumable, on one machine or a Ray cluster.

``python -m core tag LIBRARY... --out library.duckdb`` (:mod:`core.cli_library`) runs
:func:`tag_library`; the Library page of the dashboard reads the same database.

Modules, in the order the data flows:

- :mod:`core.library.walk`: find the audio files of a library, identify each by content hash;
- :mod:`core.library.job`: the one tagging job (a path in, a database row out), the model set's
  identity, the analysis (whole songs, the middle N seconds, or K windows);
- :mod:`core.library.engines`: where the job runs (this process, local processes, Ray actors);
- :mod:`core.library.store`: the DuckDB database (schema, resume, lock, reviews, exports);
- :mod:`core.library.tags`: genres into ID3 / Vorbis / MP4 tags with mutagen, audio untouched;
- :mod:`core.library.tagger`: the orchestration: tag, write tags, undo;
- :mod:`core.library.review`: the review queue and the training manifest of people's answers.
"""

from core.library.job import ModelSetInfo, TagSpec, model_set_info, tag_file
from core.library.review import export_manifest, review_queue
from core.library.store import RunLock, TagStore
from core.library.tagger import TagSummary, TagWriteSummary, tag_library, undo_tags, write_tags
from core.library.walk import walk_library

__all__ = [
    "ModelSetInfo",
    "RunLock",
    "TagSpec",
    "TagStore",
    "TagSummary",
    "TagWriteSummary",
    "export_manifest",
    "model_set_info",
    "review_queue",
    "tag_file",
    "tag_library",
    "undo_tags",
    "walk_library",
    "write_tags",
]
