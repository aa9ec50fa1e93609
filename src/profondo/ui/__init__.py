"""The browser workbench (``profondo ui``): drawings of networks (``drawing``), live checks of
architecture files (``validate``), the SQLite job store (``store``), the queue of job processes
(``jobs``) and the recorder each job trains with (``record``), the inspection of a trained
network (``inspect``), and the web application with its pages (``app``, ``static/``)."""
