"""DICOM from ultrasound and DR devices: storage and worklist SCP, study index, viewer, device AI findings (issue 4)."""
