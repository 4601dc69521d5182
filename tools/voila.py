# Voila configuration for lecture mode (installed as <env>/etc/jupyter/voila.py by
# `make present`, `make lab` and Binder's postBuild; see compresslab/lecture.py).
from compresslab.lecture import lecture_mode_hook

c.VoilaConfiguration.prelaunch_hook = lecture_mode_hook   # noqa: F821  (c: the traitlets config)
c.VoilaConfiguration.strip_sources = True                 # noqa: F821  never show code
c.VoilaConfiguration.show_tracebacks = False              # noqa: F821  a class sees no traceback
