"""The version of the distillation and evaluation protocol that this frepo_lite implements.

Every stored result that depends on the algorithm carries it: the resume files of an evaluation
(their names are a hash that includes it) and the checkpoints of a distillation (refused when it differs).
Bump it whenever a change alters what a distillation or an evaluation computes, so that a resumed
benchmark never returns results of the old code.

History: 1, the first release; 2, cutout of side res/4 (was one pixel short at 16 and 32 px), pool models
reset after more than K online steps (was: after K), the KRR's fallback regulariser escalated tenfold from
the configured one (was: 1e-3 tr(K)/n at once), the KRR accuracy of an evaluation with the set's own
lambda0 and flips.
"""
PROTOCOL_VERSION = 2
