"""Home: what GenreLab is and where to start."""

import streamlit as st

st.title("GenreLab")
st.markdown(
    "A music-genre classification lab: upload a song and compare how three model families "
    "hear it, evaluate them honestly (split by track and artist), and train on your own "
    "collection."
)
st.markdown(
    "- **MFCC-MLP**: a dense network on the 57 GTZAN summary features\n"
    "- **mel-CNN**: a convolutional network on log-mel spectrograms of 3-second segments\n"
    "- **YAMNet-embedding**: Google's pretrained YAMNet embeddings with a softmax head"
)
