"""Library: a tagged music library (``python -m core tag``), its review queue and exports."""

from pathlib import Path

import streamlit as st

from core.errors import GenreLabError
from core.library import TagStore, export_manifest
from dashboard import figures
from dashboard.library import (
    SORTS,
    analyses_text,
    audio_file,
    default_database,
    display_table,
    failures,
    filter_rows,
    genre_counts,
    load_library,
    manifest_target,
    measurements,
    model_answers,
    remember_database,
    review_queue,
)
from dashboard.resources import model_sets
from dashboard.ui import guard, model_label

st.title("Library")
st.caption("A library tagged with `python -m core tag ~/Music --out library.duckdb` (add "
           "`--jobs 2`, or `--engine ray` on a cluster). Review the songs the models are unsure "
           "about; the answers train the next model set.")
st.session_state.setdefault("library_path", st.session_state.get("library_db") or default_database())
path = st.text_input("Tagging database", key="library_path",
                     placeholder="/path/to/library.duckdb")
if not path:
    st.info("Give the path of a tagging database written by `python -m core tag`.")
    st.stop()
try:
    data = load_library(path)
except GenreLabError as exc:
    st.error(f"Cannot open {path}: {exc}")
    st.stop()
st.session_state["library_db"] = data.database
remember_database(data.database)
rows = data.rows
measured = measurements(data)

tagged = rows[rows["status"] == "tagged"]
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Files", f"{len(rows):,}")
m2.metric("Tagged files", f"{len(tagged):,}")
m3.metric("Failed files", f"{int((rows['status'] == 'failed').sum()):,}")
m4.metric("Songs to review", f"{int(review_queue(rows)['priority'].gt(0).sum()):,}",
          help="Songs nobody has reviewed yet whose ensemble is unsure or whose models "
               "disagree (copies of a song share its answer and count once): the review queue "
               "below.")
if measured:
    m5.metric("Songs per second", f"{measured['songs_per_second']:.2f}",
              help=f"Run {measured['run_id']}, the one that tagged the most songs: "
                   f"{measured['workers']} {measured['engine']} worker(s), "
                   f"{measured['realtime_factor']:.0f}x real time.")
run = data.runs.iloc[0]
tagged_with = Path(str(run.get("models_dir") or "")).resolve()
set_name = next((name for name, folder in model_sets().items()  # as the sidebar names it
                 if Path(folder).resolve() == tagged_with), run["model_set_name"])
st.caption(f"Model set {set_name} (id {run['model_set']}), {analyses_text(rows, run['analysis'])}; "
           f"{len(data.runs)} run(s), the latest {run['status']}.")

with guard("Drawing the genre distribution"):
    if len(tagged):
        st.plotly_chart(figures.genre_distribution(genre_counts(rows)), theme="streamlit")

st.subheader("Songs")
c1, c2, c3 = st.columns([3, 2, 2])
chosen = c1.multiselect("Genres", data.genres, key="library_genres")
confidence = c2.slider("Confidence", 0.0, 1.0, (0.0, 1.0), 0.01, key="library_confidence")
sort = c3.selectbox("Sort", list(SORTS), key="library_sort")
c4, c5 = st.columns(2)
only_disagreeing = c4.checkbox("Only where the models disagree", key="library_disagree")
only_review = c5.checkbox("Only songs that need review", key="library_review")
view = filter_rows(rows, genres=chosen, confidence=confidence, only_disagreeing=only_disagreeing,
                   only_review=only_review, sort=sort)
st.dataframe(display_table(view), hide_index=True, width="stretch",
             height=min(300, 35 * (len(view) + 1) + 3),  # no empty rows under a short list
             column_config={"confidence": st.column_config.NumberColumn(format="percent")})
if len(view):
    song = st.selectbox("Play", view["path"].head(1000).tolist(), key="library_play",
                        format_func=lambda p: Path(p).name)
    audio = audio_file(song)
    if audio is None:
        st.warning(f"{song} cannot be played here (missing, or too big to send to the browser).")
    else:
        st.audio(audio[0], format=audio[1])
bad = failures(rows)
if len(bad):
    with st.expander(f"{len(bad)} file(s) could not be tagged"):
        st.dataframe(bad, hide_index=True, width="stretch")


def _answer(content_hash: str, genre: str, predicted: str, song_path: str) -> None:
    with guard("Saving the answer"):
        TagStore(data.database).set_review(content_hash, genre, predicted=predicted,
                                           model_set=str(run["model_set"]), path=song_path)


st.subheader("Review queue")
queue = review_queue(rows)
skipped = st.session_state.setdefault("library_skipped", [])
queue = queue[~queue["content_hash"].isin(skipped)]
reviewed = int(rows.drop_duplicates("content_hash")["reviewed_genre"].notna().sum())
st.caption(f"{reviewed} song(s) reviewed; {int(queue['priority'].gt(0).sum())} unsure or "
           f"disagreeing left, then the rest, least confident first.")
if queue.empty:
    st.success("Nothing left to review.")
else:
    item = queue.iloc[0]
    reasons = [r for r, on in (("the ensemble is unsure", bool(item["uncertain"])),
                               ("the models disagree", not bool(item["agree"]))) if on]
    st.markdown(f"**{Path(item['path']).name}** · {item['verdict']} "
                f"(confidence {item['confidence']:.0%})"
                + (f" · {' and '.join(reasons)}" if reasons else ""))
    st.caption(" · ".join(f"{model_label(n)}: {g} ({p:.0%})"
                          for n, (g, p) in model_answers(item["models"]).items())
               + f" · {item['path']}")
    audio = audio_file(item["path"])
    if audio is not None:
        st.audio(audio[0], format=audio[1])
    args = (item["content_hash"], item["genre"], item["genre"], item["path"])
    b1, b2 = st.columns([1, 3])
    b1.button(f"Confirm: {item['genre']}", key="review_confirm", type="primary",
              on_click=_answer, args=args)
    b2.button("Skip for now", key="review_skip", on_click=skipped.append,
              args=(item["content_hash"],))
    st.caption("...or it is:")
    others = [g for g in data.genres if g != item["genre"]]
    columns = st.columns(max(1, min(6, len(others))))
    for i, genre in enumerate(others):
        columns[i % len(columns)].button(genre, key=f"review_{genre}", on_click=_answer,
                                         args=(item["content_hash"], genre, item["genre"],
                                               item["path"]))

st.subheader("Export")
include = st.checkbox("Also include confident answers the models agree on", key="export_confident",
                      help="Songs nobody reviewed, labelled with the ensemble's genre.")
target = st.text_input("Training manifest", value=manifest_target(data.database),
                       key="export_path")
if st.button("Save training manifest", key="export_save"):
    with guard("Exporting the manifest"):
        table = export_manifest(rows, target, include_confident=include)
        st.success(f"Wrote {len(table)} song{'s' if len(table) != 1 else ''} to {target}. "
                   f"Train on them with `python -m core train --data {target} --layout "
                   "manifest --out runs/next`.")
with guard("Preparing the Parquet download"):
    parquet = Path(data.database).with_suffix(".parquet")
    if parquet.is_file():
        st.download_button("Download the library table (Parquet)", parquet.read_bytes,
                           parquet.name, "application/octet-stream")
