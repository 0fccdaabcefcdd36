def select_and_model(*a, **k): raise NotImplementedError
class SelectionResult: pass
