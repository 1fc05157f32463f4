"""The IR layer: fixed-point types (:mod:`.fixed`), the network IR (:mod:`.network`) and its
files (:mod:`.io`), below every converter, emulator and backend."""
