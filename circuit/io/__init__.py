"""Files: one IO layer for recordings, spikes files, checkpoints, NWB and tables.

* :mod:`.atomic` — the one atomic writer (``NAME.partial``, locked, renamed into place);
* :mod:`.codec` — HDF5 attribute values and file hashes;
* :mod:`.schema` — every field of the file formats (dtype, unit, meaning), the source of
  ``docs/recording-format.md``;
* :mod:`.recording`, :mod:`.spikes`, :mod:`.checkpoint` — one container, writer and reader per
  file type; :mod:`.nwb`, :mod:`.nwb_spikes` — NWB export and read-back (pynwb);
  :mod:`.tables` — text tables for other tools (hBayesDM, schedules).
"""
