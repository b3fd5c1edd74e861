"""Data-loading suite: can this machine's storage, CPUs and loaders keep N accelerators fed?"""
