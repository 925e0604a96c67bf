"""torchlint's runtime half (installed as ``torchlint.runtime``); needs torch."""
