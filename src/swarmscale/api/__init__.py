"""The service layer every interface calls: validated inputs in, plain payloads out.

Nothing here prints, stores a run or draws a progress bar; the CLI and the web do that around
these calls (`progress` callbacks report how far long work has got).
"""
