"""The circuit beside lab data: the protocol's statistics side by side with bootstrap CIs
(:mod:`.compare`), a lab's sessions replayed against the frozen circuit (:mod:`.replay`), and
the circuit scored trial by trial on an animal's own choices (:mod:`.scoring`). What is specific
to an experiment (its statistics, schedules, teacher forcing, classic models) is the protocol's
(``ProtocolSpec.lab``); this package only runs it."""
