"""The learning loop: labelled data in, an adapted and calibrated model out; what to label next; corrections back.

``data`` reads labelled files strictly (a bad line is an error that names it), ``adapt`` fine-tunes a served model
for a schema's types, ``recalibrate`` refits only the confidence map, ``select`` picks texts worth labelling, and
``formats`` writes them for annotation tools.
"""
