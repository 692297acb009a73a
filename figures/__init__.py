"""Figure scripts: each figure saves PNG, PDF, the CSV of every plotted point, and a JSON record
(configuration, versions, elapsed time) side by side."""


def _registry():
    from figures.outcome_figures import figure4
    from figures.sft_figures import figure1, figure2, figure5
    return {"fig1": figure1, "fig2": figure2, "fig4": figure4, "fig5": figure5}


class _Lazy(dict):
    """Figure name -> function, importing matplotlib only when a figure is asked for."""

    def _load(self):
        if not super().__len__():
            self.update(_registry())

    def __contains__(self, key):
        self._load()
        return super().__contains__(key)

    def __getitem__(self, key):
        self._load()
        return super().__getitem__(key)

    def keys(self):
        self._load()
        return super().keys()

    def __iter__(self):
        self._load()
        return super().__iter__()


FIGURES = _Lazy()
