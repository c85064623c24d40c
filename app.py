"""GenreLab dashboard entry point: ``streamlit run app.py`` (or ``make run``)."""

import streamlit as st

st.set_page_config(page_title="GenreLab", page_icon="🎵", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
]

st.navigation(PAGES).run()
