"""Null texts: sentences on everyday topics no skill library is about.

A query's (or a draft's) similarity to them shows what "unrelated" scores under the
embedder in use, which calibrates relevance and duplicate thresholds for any
embedder (see :mod:`skillvault.retrieval.relevance`).
"""

NULL_TEXTS = (
    "The train to Lyon leaves from platform four at nine in the morning.",
    "Bake sourdough bread with a starter and a long cold proof.",
    "The tomato plants need watering twice a week in summer.",
    "Our cat sleeps on the windowsill when the sun comes out.",
    "The museum opens an exhibition of Dutch landscape paintings.",
    "Knit the sleeves in the round with a circular needle.",
    "The football match ended in a draw after extra time.",
    "Add a pinch of saffron to the rice before it simmers.",
    "Migrating geese fly south in a long V formation.",
    "The choir rehearses Handel's Messiah every Thursday evening.",
    "Replace the bicycle chain when it stretches past the wear mark.",
    "The lighthouse keeper logged the storm in his notebook.",
    "Grandmother's recipe for plum jam uses very little sugar.",
    "The hiking trail climbs steeply through a pine forest to the lake.",
    "A violin's tone depends on the spruce used for its top.",
    "The bakery on the corner sells croissants until noon.",
    "Volcanic soil makes the vineyards on the island very fertile.",
    "The children built a sandcastle with a moat and a tower.",
    "Pack sunscreen, a hat and water for the beach trip.",
    "The orchestra tuned to the oboe's A before the concert.",
    "Wool socks keep your feet warm on a winter walk.",
    "The ferry crossing was rough because of the northern wind.",
    "Press the flowers between pages of a heavy book to dry them.",
    "The marathon route passes the cathedral and the old harbour.",
)
