"""One training run: the MLflow run and its tags, candidates, class weights, model logging,
a team's entrypoint or trainer image, runs a killed try left behind."""
