"""ensemble: SafeNet (layer 5). Modules: data (data sets), splits (owners'
shares, iid / Dirichlet), models (owners' local numpy training, scikit-learn
import), poisoning (attacks and their success), cleartext (the cleartext
SafeNet: filter, vote, certification; the oracle of the secure version)."""
