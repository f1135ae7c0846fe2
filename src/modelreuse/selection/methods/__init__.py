"""The selectors, one module per family, each registered in :data:`modelreuse.selection.base.SELECTORS`."""
