"""GenreLab dashboard entry point: ``streamlit run dashboard/app.py`` (or ``make run``).

The entry script lives here, not beside ``pages/``: Streamlit treats a ``pages/`` folder next to
the entry script as an old-style multipage app until ``st.navigation`` first runs, so a deep link
into a freshly started server would miss this router and its sidebar.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `core` and `dashboard` import from the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.resources import model_sets  # noqa: E402
from dashboard.ui import keep_widget_state  # noqa: E402

# A local file: a Material icon as page_icon makes the browser fetch it from Google's servers.
st.set_page_config(page_title="GenreLab", page_icon=str(ROOT / "dashboard" / "static" / "genrelab.png"),
                   layout="wide")

PAGES = [
    st.Page("../pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("../pages/classify.py", title="Classify", icon=":material/headphones:"),
    st.Page("../pages/library.py", title="Library", icon=":material/library_music:"),
    st.Page("../pages/compare.py", title="Compare models", icon=":material/bar_chart:"),
    st.Page("../pages/explore.py", title="Explore data", icon=":material/travel_explore:"),
    st.Page("../pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("../pages/report.py", title="Report", icon=":material/description:"),
]

keep_widget_state()  # the Train form and Compare's choices survive a visit to another page

with st.sidebar:
    sets = model_sets()
    st.session_state.setdefault("model_set", next(iter(sets)))
    if st.session_state["model_set"] not in sets:
        st.session_state["model_set"] = next(iter(sets))
    st.selectbox("Models", list(sets), key="model_set",
                 help="The bundled defaults, the research families trained on the same split "
                      "(for comparison), or a set you trained on the Train page.")
    st.session_state.setdefault("yamnet_handle", os.environ.get("GENRELAB_YAMNET_HANDLE", ""))
    st.text_input("YAMNet handle", key="yamnet_handle",
                  placeholder="bundled:yamnet-int8 (default)",
                  help="Leave empty for the YAMNet shipped with GenreLab (what the bundled "
                       "YAMNet head was trained on), or give a TF Hub URL (e.g. "
                       "https://tfhub.dev/google/yamnet/1), a local SavedModel folder or a "
                       "YAMNet .tflite file. A head trained on another YAMNet refuses it.")

st.navigation(PAGES).run()
