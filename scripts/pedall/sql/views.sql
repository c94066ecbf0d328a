-- Views of the pedall database. Each view is documented with COMMENT ON VIEW below.

-- Publication order within a study: newest data cutoff first, else newest year. A third-party
-- summary (a review's table, a news report) ranks after every primary or regulatory report, so that
-- its figure is used only where no report of the trial itself gives one.
-- data_cutoff is an ISO date or year-month, so text order is time order.
CREATE VIEW publication_recency AS
SELECT p.publication_id, p.study_id, p.report_type = 'third_party_summary' AS third_party,
       row_number() OVER (PARTITION BY p.study_id
                          ORDER BY p.report_type = 'third_party_summary', p.data_cutoff DESC NULLS LAST,
                                   p.year DESC, p.publication_id DESC) AS recency_rank
FROM publications p;

-- Interventional trials against observational studies: the one place this grouping is defined
-- (pedall pool --design and study_summary both read it).
CREATE VIEW study_designs AS
SELECT study_id, design,
       CASE WHEN design IN ('single_arm', 'randomized', 'nonrandomized_multiarm') THEN 'interventional'
            ELSE 'observational' END AS design_group
FROM studies;

CREATE VIEW latest_outcomes_all AS
SELECT * EXCLUDE (rn) FROM (
  SELECT a.study_id, a.product_id, o.*, p.year, p.data_cutoff, r.recency_rank, r.third_party,
         row_number() OVER (
           PARTITION BY a.study_id, o.arm_id, o.comparator_arm_id, o.measure, o.analysis_population,
                        o.subgroup, o.analysis_variant, o.estimate_type, o.timepoint_months
           ORDER BY r.recency_rank) AS rn
  FROM outcomes o
  JOIN arms a USING (arm_id)
  JOIN publications p USING (publication_id)
  JOIN publication_recency r USING (publication_id)
) WHERE rn = 1;

-- Third-party figures are left out by default; latest_outcomes_all keeps them, flagged.
CREATE VIEW latest_outcomes AS
SELECT * EXCLUDE (third_party) FROM latest_outcomes_all WHERE NOT third_party;

-- Proportions with events and totals, from outcomes and adverse events, with a Wilson 95% CI and
-- metafor's logit (measure = "PLO"): 0.5 is added to both cells only when one of them is zero.
CREATE VIEW binary_outcomes AS
WITH rows AS (
  SELECT 'outcomes' AS source_table, o.outcome_id AS row_id, o.publication_id, o.arm_id,
         o.measure, CAST(NULL AS VARCHAR) AS event, CAST(NULL AS BIGINT) AS grade_min,
         CAST(NULL AS BIGINT) AS grade_max, CAST(NULL AS VARCHAR) AS grading_system,
         CAST(o.analysis_population AS VARCHAR) AS analysis_population, o.subgroup,
         o.timepoint_months, CAST(o.timepoint_anchor AS VARCHAR) AS timepoint_anchor, o.analysis_variant,
         o.n_events AS xi, o.n_total AS ni, o.estimate AS reported_percent, o.source_location, o.value_origin
  FROM outcomes o
  WHERE o.estimate_type = 'proportion' AND o.n_events IS NOT NULL AND o.n_total > 0
  UNION ALL
  SELECT 'adverse_events', e.ae_id, e.publication_id, e.arm_id,
         e.event || '_grade_' || e.grade_min || '_' || e.grade_max, e.event, e.grade_min, e.grade_max,
         CAST(e.grading_system AS VARCHAR), CAST(e.analysis_population AS VARCHAR), NULL, NULL, NULL, NULL,
         e.n_events, e.n_total, e.estimate, e.source_location, e.value_origin
  FROM adverse_events e
  WHERE e.n_events IS NOT NULL AND e.n_total > 0
), adj AS (
  SELECT *, xi / ni AS p,
         CASE WHEN xi = 0 OR xi = ni THEN xi + 0.5 ELSE xi END AS xa,
         CASE WHEN xi = 0 OR xi = ni THEN ni + 1.0 ELSE ni END AS na
  FROM rows
)
SELECT a.study_id, a.product_id, adj.arm_id, adj.source_table, adj.row_id, adj.measure, adj.event,
       adj.grade_min, adj.grade_max, adj.grading_system, adj.analysis_population, adj.subgroup,
       adj.timepoint_months, adj.timepoint_anchor, adj.analysis_variant, adj.xi, adj.ni, adj.reported_percent,
       100 * adj.p AS proportion_percent,
       100 * (adj.p + 1.959963984540054 ^ 2 / (2 * adj.ni)
              - 1.959963984540054 * sqrt(adj.p * (1 - adj.p) / adj.ni + 1.959963984540054 ^ 2 / (4 * adj.ni ^ 2)))
           / (1 + 1.959963984540054 ^ 2 / adj.ni) AS wilson_lower_percent,
       100 * (adj.p + 1.959963984540054 ^ 2 / (2 * adj.ni)
              + 1.959963984540054 * sqrt(adj.p * (1 - adj.p) / adj.ni + 1.959963984540054 ^ 2 / (4 * adj.ni ^ 2)))
           / (1 + 1.959963984540054 ^ 2 / adj.ni) AS wilson_upper_percent,
       ln(adj.xa / (adj.na - adj.xa)) AS yi,
       1 / adj.xa + 1 / (adj.na - adj.xa) AS vi,
       adj.publication_id, adj.source_location, adj.value_origin, r.third_party
FROM adj
JOIN arms a USING (arm_id)
JOIN publication_recency r USING (publication_id);

-- Survival and cumulative-incidence estimates at time points. The standard error is derived from
-- a reported CI as (upper - lower) / (2 z), on the percent scale, assuming a symmetric interval.
CREATE VIEW survival_outcomes AS
SELECT a.study_id, a.product_id, o.arm_id, o.outcome_id, o.measure, o.analysis_population, o.subgroup,
       o.analysis_variant,
       o.estimate_type, o.timepoint_months, o.timepoint_anchor, o.n_total, o.estimate AS estimate_percent,
       o.ci_level, o.ci_lower, o.ci_upper,
       CASE WHEN o.ci_lower IS NOT NULL AND o.ci_upper IS NOT NULL AND o.ci_level IS NOT NULL
            THEN (o.ci_upper - o.ci_lower) / (2 * CASE o.ci_level WHEN 95 THEN 1.959963984540054
                                                                WHEN 90 THEN 1.6448536269514722
                                                                WHEN 99 THEN 2.5758293035489004 END)
       END AS se_percent,
       o.publication_id, o.source_location, o.value_origin, o.note, r.third_party
FROM outcomes o
JOIN arms a USING (arm_id)
JOIN publication_recency r USING (publication_id)
WHERE o.estimate_type IN ('kaplan_meier', 'cumulative_incidence') AND o.timepoint_months IS NOT NULL;

-- The arm that stands for each study in summaries and pooled analyses: pooled dose cohorts, else the
-- single arm (or the whole cohort of an observational study), else the first experimental arm. In a
-- randomized trial a pooled group only gathers a stratum's arms, so there the experimental arm is
-- used. A factor group (e.g. high disease burden) never stands for its study.
CREATE VIEW summary_arms AS
SELECT study_id, arm_id FROM (
  SELECT a.study_id, a.arm_id, row_number() OVER (PARTITION BY a.study_id ORDER BY
           CASE WHEN a.role = 'pooled' AND s.design <> 'randomized' THEN 0
                WHEN a.role IN ('single_arm', 'cohort') THEN 1 WHEN a.role = 'experimental' THEN 2
                WHEN a.role IN ('factor_group', 'analysis_set') THEN 4 ELSE 3 END,
           a.arm_id) AS rn
  FROM arms a JOIN studies s USING (study_id)) WHERE rn = 1;

-- The figures that can stand for a study, each ranked by `pick` within its study and measure (and
-- time point, for time-to-event measures): 1 is the figure study_summary shows and pedall pool uses
-- (pool, given --population, takes the best pick left in that population). Order: the analysis
-- population in the order of its schema enumeration (infused before treated, evaluable, ...), then the
-- newest publication, then the earliest time point; a third-party summary's figure after every report
-- of the trial itself (third_party: study_summary and pool leave those out unless asked). Only the
-- summary arm, no subgroup, no variant, no comparison.
CREATE VIEW summary_outcome_candidates AS
SELECT l.study_id, l.arm_id, l.outcome_id, l.publication_id, l.measure, m.kind,
       CAST(l.analysis_population AS VARCHAR) AS analysis_population, l.timepoint_months,
       CAST(l.estimate_type AS VARCHAR) AS estimate_type, l.n_events, l.n_total, l.estimate, l.ci_level,
       l.ci_lower, l.ci_upper, l.recency_rank, l.third_party,
       row_number() OVER (PARTITION BY l.study_id, l.measure,
                                       CASE WHEN m.kind = 'time_to_event' THEN l.timepoint_months END
                          ORDER BY l.third_party, l.analysis_population, l.recency_rank,
                                   l.timepoint_months NULLS FIRST, l.outcome_id) AS pick
FROM latest_outcomes_all l
JOIN summary_arms USING (arm_id)
JOIN measures m USING (measure)
WHERE l.subgroup IS NULL AND l.analysis_variant IS NULL AND l.comparator_arm_id IS NULL
  AND ((m.kind = 'binary' AND l.estimate_type = 'proportion')
       OR (m.kind = 'time_to_event' AND l.estimate_type IN ('kaplan_meier', 'cumulative_incidence')
           AND l.timepoint_months IS NOT NULL));

-- Adverse-event counts from grade G up to grade 5 that can stand for a study, by event group (the
-- schema's eventGroups, e.g. neurotoxicity; every event is also a group of its own) and lowest grade.
-- Order: a report of the trial itself before a third-party summary, an all-cause (or unqualified)
-- count before a treatment-related one, then the population order, then the newest publication.
CREATE VIEW summary_adverse_event_candidates AS
WITH groups AS (
  SELECT event_group, event, label FROM event_groups
  UNION
  SELECT DISTINCT event, event, upper(event[1]) || replace(event[2:], '_', ' ') FROM adverse_events
  WHERE event NOT IN (SELECT event_group FROM event_groups)
)
SELECT sa.study_id, e.arm_id, e.ae_id, e.publication_id, g.event_group, g.label AS event_group_label, e.event,
       e.grade_min, e.grade_max, CAST(e.attribution AS VARCHAR) AS attribution,
       CAST(e.analysis_population AS VARCHAR) AS analysis_population, e.n_events, e.n_total, e.estimate,
       r.recency_rank, r.third_party,
       row_number() OVER (PARTITION BY sa.study_id, g.event_group, e.grade_min
                          ORDER BY r.third_party, e.attribution = 'treatment_related', e.analysis_population,
                                   r.recency_rank, e.ae_id) AS pick
FROM adverse_events e
JOIN summary_arms sa USING (arm_id)
JOIN groups g USING (event)
JOIN publication_recency r USING (publication_id)
WHERE e.grade_max = 5 AND e.grade_min IS NOT NULL;

-- One row per study, figures taken from its summary arm (pooled dose cohorts, else single arm, else
-- the first experimental arm) and from the newest publication that reports each figure.
CREATE VIEW study_summary AS
WITH summary_arm AS (
  SELECT sa.study_id, sa.arm_id, a.product_id FROM summary_arms sa JOIN arms a USING (arm_id)
), flow AS (
  -- N treated: infused (cell therapies) or treated, from the newest publication reporting it.
  SELECT f.arm_id, arg_min(f.n, r.recency_rank) AS n_treated
  FROM participant_flow f JOIN publication_recency r USING (publication_id)
  WHERE f.stage IN ('infused', 'treated') AND NOT r.third_party
  GROUP BY f.arm_id
), eff AS (
  -- the figures pedall pool uses (pick = 1); a percent the source did not print is derived from its counts
  SELECT arm_id,
    any_value(coalesce(estimate, 100.0 * n_events / n_total)) FILTER (WHERE measure = 'cr_cri') AS cr_cri_percent,
    any_value(estimate) FILTER (WHERE measure = 'efs' AND timepoint_months = 12) AS efs_12m_percent,
    any_value(estimate) FILTER (WHERE measure = 'os' AND timepoint_months = 12) AS os_12m_percent
  FROM summary_outcome_candidates WHERE pick = 1 AND NOT third_party GROUP BY arm_id
), tox AS (
  SELECT arm_id,
    any_value(coalesce(estimate, 100.0 * n_events / n_total)) FILTER (WHERE event_group = 'crs')
        AS crs_grade3plus_percent,
    any_value(coalesce(estimate, 100.0 * n_events / n_total)) FILTER (WHERE event_group = 'neurotoxicity')
        AS neurotox_grade3plus_percent
  FROM summary_adverse_event_candidates WHERE pick = 1 AND NOT third_party AND grade_min = 3 GROUP BY arm_id
)
SELECT s.study_id, s.acronym, sa.product_id, p.name AS product_name, s.design, d.design_group, s.phase,
       s.intervention_class, s.setting, sa.arm_id AS summary_arm_id,
       (SELECT count(*) FROM publications pu
        WHERE pu.study_id = s.study_id AND pu.report_type <> 'third_party_summary') AS n_publications,
       flow.n_treated, eff.cr_cri_percent, eff.efs_12m_percent, eff.os_12m_percent,
       tox.crs_grade3plus_percent, tox.neurotox_grade3plus_percent
FROM studies s
JOIN study_designs d USING (study_id)
LEFT JOIN summary_arm sa USING (study_id)
LEFT JOIN products p ON p.product_id = sa.product_id
LEFT JOIN flow ON flow.arm_id = sa.arm_id
LEFT JOIN eff ON eff.arm_id = sa.arm_id
LEFT JOIN tox ON tox.arm_id = sa.arm_id
ORDER BY s.study_id;

-- Coverage: one row per study and core figure of a meta-analysis, with the best available value
-- (reported before calculated before read from a figure; primary and regulatory reports before
-- third-party summaries; newest first) or, when there is none, why: the readable sources do not
-- report it, or no source of the study could be read at all.
CREATE VIEW coverage_items AS
SELECT * FROM (VALUES
  (1, 'n_enrolled', 'N enrolled or randomized'),
  (2, 'n_treated', 'N infused or treated'),
  (3, 'cr_cri', 'CR/CRi (or CR)'),
  (4, 'mrd_negative_cr', 'MRD-negative remission'),
  (5, 'efs', 'EFS (time point or median)'),
  (6, 'os', 'OS (time point or median)'),
  (7, 'rfs_dfs', 'RFS, DFS or LFS'),
  (8, 'crs_any', 'CRS, any grade'),
  (9, 'crs_grade3plus', 'CRS, grade >=3'),
  (10, 'neurotox_any', 'Neurotoxicity/ICANS, any grade'),
  (11, 'neurotox_grade3plus', 'Neurotoxicity/ICANS, grade >=3'),
  (12, 'sos_vod', 'SOS/VOD (inotuzumab)')
) AS t(item_order, item, item_label);

CREATE VIEW coverage AS
WITH orig_rank AS (
  SELECT * FROM (VALUES ('reported', 0), ('calculated', 1), ('read_from_figure', 2)) AS t(value_origin, o)
), figures AS (
  SELECT a.study_id,
         CASE WHEN f.stage IN ('enrolled', 'randomized') THEN 'n_enrolled' ELSE 'n_treated' END AS item,
         CAST(f.n AS VARCHAR) AS value, f.arm_id, f.publication_id, CAST(f.value_origin AS VARCHAR) AS value_origin
  FROM participant_flow f JOIN arms a USING (arm_id)
  WHERE f.stage IN ('enrolled', 'randomized', 'infused', 'treated') AND a.role <> 'factor_group'
  UNION ALL
  SELECT a.study_id,
         CASE WHEN o.measure IN ('cr_cri', 'cr') THEN 'cr_cri'
              WHEN o.measure IN ('mrd_negative_cr') THEN 'mrd_negative_cr'
              WHEN o.measure = 'efs' THEN 'efs' WHEN o.measure = 'os' THEN 'os'
              ELSE 'rfs_dfs' END,
         concat_ws(' ',
           CASE WHEN o.n_events IS NOT NULL AND o.n_total IS NOT NULL THEN o.n_events || '/' || o.n_total END,
           CASE WHEN o.estimate IS NOT NULL THEN CAST(o.estimate AS VARCHAR) || CASE WHEN o.unit = 'months' THEN ' months' ELSE '%' END END,
           CASE WHEN o.timepoint_months IS NOT NULL AND o.estimate_type <> 'proportion'
                THEN 'at ' || CAST(o.timepoint_months AS VARCHAR) || ' months' END,
           CASE WHEN o.estimate_type = 'median' AND o.estimate IS NULL THEN 'median not reached'
                WHEN o.estimate_type = 'median' THEN '(median)' END),
         o.arm_id, o.publication_id, CAST(o.value_origin AS VARCHAR)
  FROM outcomes o JOIN arms a USING (arm_id)
  WHERE o.measure IN ('cr_cri', 'cr', 'mrd_negative_cr', 'efs', 'os', 'rfs', 'dfs', 'lfs')
    AND o.estimate_type IN ('proportion', 'kaplan_meier', 'median', 'cumulative_incidence')
    AND o.comparator_arm_id IS NULL
  UNION ALL
  SELECT a.study_id,
         -- which events count as neurotoxicity: the schema's eventGroups (table event_groups)
         CASE WHEN e.event = 'crs' THEN 'crs' WHEN e.event = 'sos_vod' THEN 'sos_vod' ELSE 'neurotox' END
           || CASE WHEN e.event = 'sos_vod' THEN '' WHEN e.grade_min >= 3 THEN '_grade3plus' ELSE '_any' END,
         concat_ws(' ',
           CASE WHEN e.n_events IS NOT NULL AND e.n_total IS NOT NULL THEN e.n_events || '/' || e.n_total END,
           CASE WHEN e.estimate IS NOT NULL THEN CAST(e.estimate AS VARCHAR) || '%' END,
           CASE WHEN e.grade_max < 5 THEN '(grade ' || e.grade_min || '-' || e.grade_max || ')' END,
           CASE WHEN e.attribution = 'treatment_related' THEN '(related)' END),
         e.arm_id, e.publication_id, CAST(e.value_origin AS VARCHAR)
  FROM adverse_events e JOIN arms a USING (arm_id)
  WHERE (e.event IN ('crs', 'sos_vod')
         OR e.event IN (SELECT event FROM event_groups WHERE event_group = 'neurotoxicity'))
    AND (e.grade_min IS NULL OR e.grade_min IN (1, 3))
    AND (e.event = 'sos_vod' OR e.grade_min IS NOT NULL)
), ranked AS (
  SELECT fg.*, r.third_party, p.report_type,
         count(*) OVER (PARTITION BY fg.study_id, fg.item) AS n_rows,
         row_number() OVER (PARTITION BY fg.study_id, fg.item
                            ORDER BY r.third_party, sa.summary_arm_id IS NULL, o.o, r.recency_rank, fg.value) AS rn
  FROM figures fg
  LEFT JOIN (SELECT arm_id AS summary_arm_id FROM summary_arms) sa ON sa.summary_arm_id = fg.arm_id
  JOIN publication_recency r USING (publication_id)
  JOIN publications p USING (publication_id)
  JOIN orig_rank o USING (value_origin)
), readable AS (
  SELECT study_id, max(CASE evidence_read WHEN 'full_text' THEN 3 WHEN 'tables' THEN 2
                                          WHEN 'abstract' THEN 1 ELSE 0 END) AS depth
  FROM publications GROUP BY study_id
)
SELECT s.study_id, s.intervention_class, i.item_order, i.item, i.item_label,
       CASE WHEN b.study_id IS NOT NULL AND b.third_party THEN 'third_party_only'
            WHEN b.study_id IS NOT NULL THEN CAST(b.value_origin AS VARCHAR)
            WHEN i.item = 'sos_vod' AND s.intervention_class <> 'antibody_drug_conjugate' THEN 'not_applicable'
            WHEN coalesce(rd.depth, 0) = 0 THEN 'source_not_readable'
            ELSE 'not_in_readable_sources' END AS status,
       b.value, b.publication_id, CAST(b.report_type AS VARCHAR) AS report_type, coalesce(b.n_rows, 0) AS n_rows,
       CASE coalesce(rd.depth, 0) WHEN 3 THEN 'full_text' WHEN 2 THEN 'tables' WHEN 1 THEN 'abstract'
                                  ELSE 'not_found' END AS deepest_source_read
FROM studies s
CROSS JOIN coverage_items i
LEFT JOIN (SELECT * FROM ranked WHERE rn = 1) b ON b.study_id = s.study_id AND b.item = i.item
LEFT JOIN readable rd ON rd.study_id = s.study_id
ORDER BY s.study_id, i.item_order;

COMMENT ON VIEW publication_recency IS 'Publications ranked within their study: 1 = newest data cutoff (else newest year); third-party summaries rank after every report of the trial itself (third_party = true).';
COMMENT ON VIEW latest_outcomes_all IS 'As latest_outcomes, but keeping figures that only a third-party summary gives (third_party = true); a report of the trial itself always wins over a third-party one.';
COMMENT ON VIEW latest_outcomes IS 'For each study, arm, comparator, measure, population, subgroup, estimate type and time point, the outcome row from the newest publication, so that pooled analyses count each trial once. Third-party summaries are left out (see latest_outcomes_all).';
COMMENT ON VIEW binary_outcomes IS 'Every outcome (estimate_type proportion) and adverse-event figure with events (xi) and total (ni): proportion, Wilson 95% CI in percent, and metafor PLO logit yi with sampling variance vi (0.5 added to both cells only when a cell is zero).';
COMMENT ON VIEW survival_outcomes IS 'Kaplan-Meier and cumulative-incidence estimates at time points (percent) with CIs and a standard error derived from the CI assuming symmetry on the percent scale.';
COMMENT ON VIEW summary_arms IS 'The arm standing for each study in study_summary and pedall pool: pooled dose cohorts, else the single arm or whole cohort, else the first experimental arm; never a factor group.';
COMMENT ON VIEW study_summary IS 'One row per study: product, design, N treated or infused, CR/CRi, 12-month EFS and OS, grade >=3 CRS and neurotoxicity of its summary arm (pooled dose cohorts, else single arm, else first experimental arm), where reported; figures from the newest publication reporting them.';
COMMENT ON VIEW study_designs IS 'Each study''s design and its group: interventional (single_arm, randomized, nonrandomized_multiarm) or observational (cohorts, registries, case series). pedall pool uses interventional studies unless --design says otherwise.';
COMMENT ON VIEW summary_outcome_candidates IS 'Outcome figures of each study''s summary arm that can stand for the study, ranked by pick within study, measure (and time point for time-to-event measures): population in schema order, newest publication, earliest time point. pick = 1 is what study_summary shows and pedall pool uses; third-party figures (third_party) rank last and are left out unless asked for.';
COMMENT ON VIEW summary_adverse_event_candidates IS 'Adverse-event counts (grade G to 5) of each study''s summary arm by event group (adverse_events.schema.json eventGroups; each event is also its own group), ranked by pick within study, group and lowest grade: all-cause before treatment-related, population in schema order, newest publication; third-party figures (third_party) rank last and are left out unless asked for. pick = 1 is what study_summary shows and pedall pool uses.';
COMMENT ON VIEW coverage_items IS 'The core figures of the coverage view, in display order.';
COMMENT ON VIEW coverage IS 'One row per study and core figure (N, CR/CRi, MRD-negative remission, EFS, OS, RFS/DFS, CRS and neurotoxicity any grade and grade >=3, SOS/VOD for inotuzumab): status is the value_origin of the best figure (reported, calculated, read_from_figure), third_party_only, not_applicable, not_in_readable_sources (the sources that could be read do not give it) or source_not_readable (no source of the study could be read); value, publication and how many rows give the figure.';

-- Meta-regression moderators (issue 16). Which characteristic codes stand for each baseline
-- moderator: only codes that mean the same thing (prior blinatumomab alone, or prior CAR-T alone, is
-- not all prior CD19-directed therapy; CNS-3 alone is not all CNS disease), first code first.
CREATE VIEW moderator_characteristics AS
SELECT * FROM (VALUES
  ('age_median_years', 'age_median_years', 1),
  ('prior_hsct_percent', 'prior_hsct', 1),
  ('prior_hsct_percent', 'prior_hct', 2),
  ('prior_cd19_directed_percent', 'prior_cd19_directed_therapy', 1),
  ('prior_cd19_directed_percent', 'prior_cd19_targeted_therapy', 2),
  ('prior_cd19_directed_percent', 'prior_cd19_directed_immunotherapy', 3),
  ('high_marrow_burden_percent', 'high_marrow_burden', 1),
  ('cns_disease_percent', 'cns_disease', 1)
) AS t(moderator, characteristic, code_order);

-- One row per study: what a meta-regression can explain a pooled figure by (pedall pool --moderator).
-- Product facts come from the product of the study's summary arm (the arm pool and study_summary use);
-- baseline characteristics from rows of that same arm, never a third-party summary's: the printed
-- percent, else n / n_total; where several rows give one, the population in the schema's order, then
-- the newest publication, then the code's order in moderator_characteristics.
CREATE VIEW study_moderators AS
WITH vals AS (
  SELECT sa.study_id, mc.moderator, mc.code_order, c.population, r.recency_rank,
         CASE WHEN mc.moderator = 'age_median_years'
                   THEN CASE WHEN c.unit = 'months' THEN c.value / 12 WHEN c.unit = 'years' OR c.unit IS NULL
                                 THEN c.value END
              WHEN c.unit = 'percent' AND c.value IS NOT NULL THEN c.value
              WHEN c.n IS NOT NULL AND c.n_total > 0 THEN 100.0 * c.n / c.n_total END AS value
  FROM characteristics c
  JOIN summary_arms sa USING (arm_id)
  JOIN moderator_characteristics mc USING (characteristic)
  JOIN publication_recency r USING (publication_id)
  WHERE NOT r.third_party
), best AS (
  SELECT study_id, moderator, value FROM (
    SELECT *, row_number() OVER (PARTITION BY study_id, moderator
                                 ORDER BY population, recency_rank, code_order) AS rn
    FROM vals WHERE value IS NOT NULL) WHERE rn = 1
), wide AS (
  SELECT study_id,
         any_value(value) FILTER (WHERE moderator = 'age_median_years') AS age_median_years,
         any_value(value) FILTER (WHERE moderator = 'prior_hsct_percent') AS prior_hsct_percent,
         any_value(value) FILTER (WHERE moderator = 'prior_cd19_directed_percent') AS prior_cd19_directed_percent,
         any_value(value) FILTER (WHERE moderator = 'high_marrow_burden_percent') AS high_marrow_burden_percent,
         any_value(value) FILTER (WHERE moderator = 'cns_disease_percent') AS cns_disease_percent
  FROM best GROUP BY study_id
)
SELECT s.study_id, s.acronym, sa.arm_id AS summary_arm_id, a.product_id, s.intervention_class, p.targets,
       p.costimulatory_domain, p.construct_origin, p.manufacture, s.design, d.design_group, s.setting,
       w.age_median_years, w.prior_hsct_percent, w.prior_cd19_directed_percent, w.high_marrow_burden_percent,
       w.cns_disease_percent
FROM studies s
JOIN study_designs d USING (study_id)
LEFT JOIN summary_arms sa USING (study_id)
LEFT JOIN arms a ON a.arm_id = sa.arm_id
LEFT JOIN products p ON p.product_id = a.product_id
LEFT JOIN wide w USING (study_id)
ORDER BY s.study_id;

COMMENT ON VIEW moderator_characteristics IS 'Which characteristics.characteristic codes stand for each baseline moderator of study_moderators (only codes with the same meaning), in order of preference.';
COMMENT ON VIEW study_moderators IS 'One row per study, from its summary arm: intervention class, product targets, costimulatory domain, construct origin, academic or commercial manufacture, design, setting, and baseline characteristics where printed for that arm (median age in years; percent with prior HSCT, prior CD19-directed therapy, high marrow burden, CNS disease), never from a third-party summary. The moderators of pedall pool --moderator.';
