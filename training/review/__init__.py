"""Training side of review: mutations, VAE, bug detector, and the calibrations written into the bundle.

| module | owns |
|---|---|
| `mutations` | synthetic single-token bugs of every kind the findings look for |
| `data` | functions of a corpus split, their signals and embeddings; pairwise / separation metrics |
| `vae`, `detector`, `detector_data` | the VAE over function embeddings; the DeepBugs-style token detector and its training pairs |
| `calibrate` | `devassist review calibrate`: fits the score and line ranking on validation, exports the `review` component |
| `findings_calibrate` | `devassist review calibrate-findings`: the likely-bug threshold at <= N false alarms per 1,000 clean lines |
"""
