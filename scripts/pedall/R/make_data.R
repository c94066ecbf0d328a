# Run by `pedall build` (rpackage.py): types each CSV file of the staging folder by its schema with
# read.R's pedall_read_csv, the code of the release's R/pedall.R, and saves it as data/<name>.rda
# of the R package. Arguments: the staging folder (spec.json, csv/) and the package's data folder.
args <- commandArgs(trailingOnly = TRUE)
stage <- args[[1]]
out <- args[[2]]
source(file.path(stage, "read.R"))
spec <- jsonlite::fromJSON(file.path(stage, "spec.json"), simplifyVector = FALSE)
dir.create(out, showWarnings = FALSE)
for (item in spec) {
  df <- pedall_read_csv(file.path(stage, "csv", paste0(item$name, ".csv")), item$schema)
  assign(item$name, df)
  # xz and serialization version 3 (no time stamp in either): the same data give the same bytes
  save(list = item$name, file = file.path(out, paste0(item$name, ".rda")), compress = "xz", version = 3)
}
