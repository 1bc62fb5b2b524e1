TrainingEngine = initialize = None
