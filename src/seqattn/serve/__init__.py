"""The model server and web page (`seqattn serve`).

Importing this package is cheap; FastAPI and uvicorn load with `seqattn.serve.app`.
"""
