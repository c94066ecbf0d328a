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

-- Interventional trials against observational studies: defined once, in studies.schema.json
-- (designGroups, the table design_groups); pedall pool --design, study_summary and coverage read it.
CREATE VIEW study_designs AS
SELECT s.study_id, s.design, g.design_group
FROM studies s LEFT JOIN design_groups g ON g.design = CAST(s.design AS VARCHAR);

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
-- used. A factor group (e.g. high disease burden) or an analysis set (e.g. a pooled analysis of two
-- trials) never stands for its study.
CREATE VIEW summary_arms AS
SELECT study_id, arm_id FROM (
  SELECT a.study_id, a.arm_id, row_number() OVER (PARTITION BY a.study_id ORDER BY
           CASE WHEN a.role = 'pooled' AND s.design <> 'randomized' THEN 0
                WHEN a.role IN ('single_arm', 'cohort') THEN 1 WHEN a.role = 'experimental' THEN 2 ELSE 3 END,
           a.arm_id) AS rn
  FROM arms a JOIN studies s USING (study_id)
  WHERE a.role NOT IN ('factor_group', 'analysis_set')) WHERE rn = 1;

-- The arms whose figures can stand for a study: its summary arm first, then (only where the summary
-- arm gives no figure of that kind that can be pooled) a dose cohort of the same study, e.g. the
-- recommended-dose cohort of a dose-finding trial; such a figure is flagged whole_study = false.
CREATE VIEW candidate_arms AS
SELECT study_id, arm_id, 0 AS arm_rank FROM summary_arms
UNION ALL
SELECT a.study_id, a.arm_id, 1 FROM arms a
WHERE a.role = 'dose_cohort' AND a.arm_id NOT IN (SELECT arm_id FROM summary_arms);

-- The participant-flow count of each arm, analysis population and publication (population_stages, from
-- participant_flow.schema.json): the denominator of a figure that prints none.
CREATE VIEW population_counts AS
SELECT f.publication_id, f.arm_id, ps.analysis_population, ps.source_table, f.n
FROM participant_flow f JOIN population_stages ps ON ps.stage = CAST(f.stage AS VARCHAR);

-- Counts of proportions, with the count a printed percent implies where the row gives none: the
-- denominator is the row's own n_total, else the participant-flow count of the same arm, population
-- (population_stages, from participant_flow.schema.json) and publication; a count is derived only
-- when exactly one whole number of events reproduces the printed percent at its printed decimals
-- (a value printed as 21.0 reads as 21, the wider interval). Derived in the analysis layer only,
-- flagged events_derived; data/ never holds it. Mirrors estimates.derived_count.
CREATE VIEW proportion_counts AS
WITH rows AS (
  SELECT 'outcomes' AS source_table, outcome_id AS row_id, publication_id, arm_id,
         CAST(analysis_population AS VARCHAR) AS analysis_population, n_events, n_total, estimate
  FROM outcomes WHERE estimate_type = 'proportion'
  UNION ALL
  SELECT 'adverse_events', ae_id, publication_id, arm_id, CAST(analysis_population AS VARCHAR), n_events,
         n_total, estimate
  FROM adverse_events
), flow AS (
  SELECT * FROM population_counts
), denominated AS (
  SELECT r.*, coalesce(r.n_total, fl.n) AS n_used, r.n_total IS NULL AND fl.n IS NOT NULL AS total_from_flow,
         CASE WHEN abs(round(r.estimate, 0) - r.estimate) < 1e-9 THEN 0
              WHEN abs(round(r.estimate, 1) - r.estimate) < 1e-9 THEN 1
              WHEN abs(round(r.estimate, 2) - r.estimate) < 1e-9 THEN 2
              WHEN abs(round(r.estimate, 3) - r.estimate) < 1e-9 THEN 3 END AS decimals
  FROM rows r
  LEFT JOIN flow fl ON fl.publication_id = r.publication_id AND fl.arm_id = r.arm_id
                   AND fl.analysis_population = r.analysis_population AND fl.source_table = r.source_table
), fits AS (
  SELECT source_table, row_id, count(*) AS n_fits, min(k) AS k FROM (
    SELECT source_table, row_id, estimate, n_used, decimals, unnest(range(0, n_used + 1)) AS k
    FROM denominated
    WHERE n_events IS NULL AND estimate IS NOT NULL AND n_used > 0 AND decimals IS NOT NULL)
  WHERE abs(100.0 * k / n_used - estimate) <= 0.5 * pow(10, -decimals) + 1e-9
  GROUP BY source_table, row_id
)
SELECT d.source_table, d.row_id, coalesce(d.n_events, CASE WHEN f.n_fits = 1 THEN f.k END) AS n_events,
       CASE WHEN d.n_events IS NULL AND f.n_fits = 1 THEN d.n_used ELSE d.n_total END AS n_total,
       d.n_events IS NULL AND coalesce(f.n_fits = 1, false) AS events_derived,
       d.total_from_flow AND d.n_events IS NULL AND coalesce(f.n_fits = 1, false) AS total_from_flow,
       CASE WHEN d.n_events IS NULL THEN coalesce(f.n_fits, 0) END AS n_counts_matching,
       d.n_used AS denominator
FROM denominated d LEFT JOIN fits f USING (source_table, row_id);

-- Endpoint families (measures.schema.json endpointFamilies, table endpoint_families), and every
-- measure as a family of its own, so that pedall pool cr_cri and pedall pool complete_remission read
-- the same candidates.
CREATE VIEW outcome_families AS
SELECT family, label, CAST(member_rank AS BIGINT) AS member_rank, measure, excluded_populations, rule
FROM endpoint_families
UNION ALL
SELECT measure, label, 1, measure, '', 'The measure alone.' FROM measures
WHERE measure NOT IN (SELECT family FROM endpoint_families);

-- The figures that can stand for a study, each ranked by `pick` within its study and family (and time
-- point, for time-to-event measures): 1 is the figure study_summary and coverage show and pedall pool
-- uses (pool, given --population or --no-derived, takes the best pick left). Order: a report of the
-- trial itself before a third-party summary (third_party: left out unless asked); a figure that can
-- be pooled (events and total, reported or derived; a time-point estimate with a CI) before one that
-- cannot; the summary arm before a dose cohort (candidate_arms); the family's member order (response_definition: CR/CRi before CR/CRh before CR); the analysis
-- population in the order of its schema enumeration; the newest publication; the earliest time point.
-- Only the summary arm or a dose cohort (whole_study false), no subgroup, no variant, no comparison.
CREATE VIEW summary_outcome_candidates AS
WITH c AS (
  SELECT a.study_id, o.arm_id, ca.arm_rank = 0 AS whole_study, ca.arm_rank, o.outcome_id, o.publication_id,
         f.family, f.label AS family_label, f.member_rank, o.measure, o.measure AS response_definition, m.kind,
         o.analysis_population AS population_order, CAST(o.analysis_population AS VARCHAR) AS analysis_population,
         o.timepoint_months, CAST(o.estimate_type AS VARCHAR) AS estimate_type,
         coalesce(o.n_events, pc.n_events) AS n_events,
         -- a survival estimate without N: the flow count of its population in the same publication
         coalesce(o.n_total, pc.n_total, CASE WHEN m.kind = 'time_to_event' THEN fl.n END) AS n_total,
         coalesce(pc.events_derived, false) AS events_derived, coalesce(o.n_total, pc.denominator) AS n_known,
         o.estimate, o.ci_level, o.ci_lower, o.ci_upper,
         r.recency_rank, r.third_party, CAST(o.value_origin AS VARCHAR) AS value_origin
  FROM outcomes o
  JOIN candidate_arms ca USING (arm_id)
  JOIN arms a USING (arm_id)
  JOIN measures m USING (measure)
  JOIN outcome_families f USING (measure)
  JOIN publication_recency r USING (publication_id)
  LEFT JOIN proportion_counts pc ON pc.source_table = 'outcomes' AND pc.row_id = o.outcome_id
  LEFT JOIN population_counts fl ON fl.source_table = 'outcomes' AND fl.publication_id = o.publication_id
                                AND fl.arm_id = o.arm_id AND fl.analysis_population = CAST(o.analysis_population AS VARCHAR)
  WHERE o.subgroup IS NULL AND o.analysis_variant IS NULL AND o.comparator_arm_id IS NULL
    AND NOT list_contains(string_split(f.excluded_populations, ';'), CAST(o.analysis_population AS VARCHAR))
    AND ((m.kind = 'binary' AND o.estimate_type = 'proportion')
         OR (m.kind = 'time_to_event' AND (o.estimate_type = 'median'
             OR (o.estimate_type IN ('kaplan_meier', 'cumulative_incidence') AND o.timepoint_months IS NOT NULL))))
), why AS (
  SELECT *, CASE
    WHEN kind = 'binary' AND n_events IS NULL AND n_known IS NULL THEN 'no count and no N reported'
    WHEN kind = 'binary' AND coalesce(n_known, 0) = 0 THEN 'N not reported'
    WHEN kind = 'binary' AND n_events IS NULL THEN 'no count reported, and none follows uniquely from the percent'
    WHEN kind = 'binary' THEN NULL
    WHEN estimate_type = 'median' THEN 'a median, not an estimate at a time point'
    WHEN estimate IS NULL THEN 'no estimate reported'
    WHEN ci_lower IS NULL OR ci_upper IS NULL OR ci_level IS NULL THEN 'no confidence interval reported'
    WHEN ci_upper <= ci_lower THEN 'confidence interval has no width' END AS unpoolable_reason
  FROM c
)
SELECT * EXCLUDE (population_order, n_known, arm_rank), unpoolable_reason IS NULL AS poolable,
       row_number() OVER (PARTITION BY study_id, family,
                                       CASE WHEN kind = 'time_to_event' THEN timepoint_months END,
                                       kind = 'time_to_event' AND estimate_type = 'median'
                          ORDER BY third_party, unpoolable_reason IS NOT NULL, arm_rank, member_rank, population_order,
                                   recency_rank, timepoint_months NULLS FIRST, outcome_id) AS pick
FROM why;

-- Adverse-event counts from grade G up to grade 5 that can stand for a study, by event group (the
-- schema's eventGroups, e.g. neurotoxicity; every event is also a group of its own) and lowest grade.
-- A grade 3-only or grade 3-4 count is not a grade >=3 count: it counts only summed with rows of the
-- same publication, arm, event, attribution, population and period that give the remaining grades up
-- to 5 (summed_from says which). A "severe" figure from a source that names no grading system
-- (grade_basis severe_undefined) stands as grade >=3, labelled. Order: a report of the trial itself
-- before a third-party summary, a figure that can be pooled before one that cannot, the summary arm
-- before a dose cohort, a printed grade
-- G-5 count before a sum, an all-cause (or unqualified) count before a treatment-related one, a graded
-- count before an undefined "severe" one, then the population order, then the newest publication.
CREATE VIEW summary_adverse_event_candidates AS
WITH groups AS (
  SELECT event_group, event, label FROM event_groups
  UNION
  SELECT DISTINCT event, event, upper(event[1]) || replace(event[2:], '_', ' ') FROM adverse_events
  WHERE event NOT IN (SELECT event_group FROM event_groups)
), counted AS (
  SELECT e.*, coalesce(e.n_events, pc.n_events) AS xi, coalesce(e.n_total, pc.n_total) AS ni,
         coalesce(pc.events_derived, false) AS derived, coalesce(e.n_total, pc.denominator) AS n_known
  FROM adverse_events e
  LEFT JOIN proportion_counts pc ON pc.source_table = 'adverse_events' AND pc.row_id = e.ae_id
), single AS (
  SELECT ae_id, publication_id, arm_id, event, grade_min, grade_max, CAST(attribution AS VARCHAR) AS attribution,
         analysis_population, xi, ni, n_known, estimate, derived, CAST(grading_system AS VARCHAR) AS grading_system,
         CAST(NULL AS VARCHAR) AS summed_from, CAST(value_origin AS VARCHAR) AS value_origin,
         grading_system = 'not_reported' AND lower(coalesce(note, '')) LIKE '%severe%' AS severe_undefined
  FROM counted WHERE grade_min IS NOT NULL AND grade_max = 5
), summed AS (
  SELECT string_agg(c.ae_id, '+' ORDER BY c.grade_min) AS ae_id, c.publication_id, c.arm_id, c.event,
         g.grade AS grade_min, 5 AS grade_max, CAST(c.attribution AS VARCHAR) AS attribution, c.analysis_population,
         sum(c.xi) AS xi, max(c.ni) AS ni, max(c.ni) AS n_known, CAST(NULL AS DOUBLE) AS estimate,
         bool_or(c.derived) AS derived,
         CAST(any_value(c.grading_system) AS VARCHAR) AS grading_system,
         'grades ' || string_agg(CASE WHEN c.grade_min = c.grade_max THEN CAST(c.grade_min AS VARCHAR)
                                      ELSE c.grade_min || '-' || c.grade_max END, ' + ' ORDER BY c.grade_min)
           AS summed_from,
         'calculated' AS value_origin, false AS severe_undefined
  FROM counted c
  JOIN (SELECT DISTINCT grade_min AS grade FROM adverse_events WHERE grade_min IS NOT NULL) g ON c.grade_min >= g.grade
  WHERE c.grade_max IS NOT NULL AND c.xi IS NOT NULL AND c.ni > 0
  GROUP BY c.publication_id, c.arm_id, c.event, c.attribution, c.analysis_population, c.timeframe, g.grade
  HAVING count(*) > 1 AND min(c.grade_min) = g.grade AND max(c.grade_max) = 5
     AND sum(c.grade_max - c.grade_min + 1) = 6 - g.grade AND count(DISTINCT c.grade_min) = count(*)
     AND min(c.ni) = max(c.ni)
), rows AS (
  SELECT * FROM single UNION ALL BY NAME SELECT * FROM summed
), why AS (
  SELECT ca.study_id, e.arm_id, ca.arm_rank = 0 AS whole_study, ca.arm_rank, e.ae_id, e.publication_id,
         g.event_group, g.label AS event_group_label, e.event,
         e.event AS response_definition, e.grade_min, e.grade_max, e.attribution, e.analysis_population AS population_order,
         CAST(e.analysis_population AS VARCHAR) AS analysis_population, e.xi AS n_events, e.ni AS n_total,
         e.derived AS events_derived, e.estimate, e.summed_from,
         CASE WHEN e.severe_undefined THEN 'severe_undefined' ELSE 'graded' END AS grade_basis,
         e.grading_system, e.value_origin, r.recency_rank, r.third_party,
         CASE WHEN e.xi IS NULL AND e.n_known IS NULL THEN 'no count and no N reported'
              WHEN coalesce(e.n_known, 0) = 0 THEN 'N not reported'
              WHEN e.xi IS NULL THEN 'no count reported, and none follows uniquely from the percent' END
           AS unpoolable_reason
  FROM rows e
  JOIN candidate_arms ca USING (arm_id)
  JOIN groups g USING (event)
  JOIN publication_recency r USING (publication_id)
)
SELECT * EXCLUDE (population_order, arm_rank), unpoolable_reason IS NULL AS poolable,
       row_number() OVER (PARTITION BY study_id, event_group, grade_min
                          ORDER BY third_party, unpoolable_reason IS NOT NULL, arm_rank, summed_from IS NOT NULL,
                                   attribution = 'treatment_related', grade_basis = 'severe_undefined',
                                   population_order, recency_rank, ae_id) AS pick
FROM why;

-- N infused or treated of each study's summary arm: infused before treated, newest publication first; a
-- third-party summary's count after every report of the trial itself.
CREATE VIEW summary_participants AS
SELECT sa.study_id, f.arm_id, f.publication_id, CAST(f.stage AS VARCHAR) AS stage, f.n,
       CAST(f.value_origin AS VARCHAR) AS value_origin, r.third_party,
       row_number() OVER (PARTITION BY sa.study_id ORDER BY r.third_party, r.recency_rank, f.stage = 'treated')
         AS pick
FROM participant_flow f
JOIN summary_arms sa USING (arm_id)
JOIN publication_recency r USING (publication_id)
WHERE f.stage IN ('infused', 'treated');

-- One row per study: the pick = 1 figures of its summary arm (the same pedall pool uses and coverage
-- shows); a proportion's percent is computed from its counts where there are counts (reported or
-- derived), else the printed percent.
CREATE VIEW study_summary AS
WITH eff AS (
  SELECT study_id,
    any_value(CASE WHEN n_events IS NOT NULL AND n_total > 0 THEN 100.0 * n_events / n_total ELSE estimate END)
      FILTER (WHERE family = 'complete_remission') AS complete_remission_percent,
    any_value(response_definition) FILTER (WHERE family = 'complete_remission') AS response_definition,
    any_value(estimate) FILTER (WHERE family = 'event_free_survival' AND timepoint_months = 12
                                      AND estimate_type <> 'median') AS efs_12m_percent,
    any_value(estimate) FILTER (WHERE family = 'overall_survival' AND timepoint_months = 12
                                      AND estimate_type <> 'median') AS os_12m_percent
  FROM summary_outcome_candidates WHERE pick = 1 AND NOT third_party GROUP BY study_id
), tox AS (
  SELECT study_id,
    any_value(CASE WHEN n_events IS NOT NULL AND n_total > 0 THEN 100.0 * n_events / n_total ELSE estimate END)
      FILTER (WHERE event_group = 'crs') AS crs_grade3plus_percent,
    any_value(CASE WHEN n_events IS NOT NULL AND n_total > 0 THEN 100.0 * n_events / n_total ELSE estimate END)
      FILTER (WHERE event_group = 'neurotoxicity') AS neurotox_grade3plus_percent
  FROM summary_adverse_event_candidates WHERE pick = 1 AND NOT third_party AND grade_min = 3 GROUP BY study_id
), derived AS (
  SELECT study_id, string_agg(DISTINCT label, ', ' ORDER BY label) AS derived_counts FROM (
    SELECT study_id, 'complete remission' AS label FROM summary_outcome_candidates
    WHERE pick = 1 AND NOT third_party AND events_derived AND family = 'complete_remission'
    UNION ALL
    SELECT study_id, event_group_label || ' grade >=3' FROM summary_adverse_event_candidates
    WHERE pick = 1 AND NOT third_party AND events_derived AND grade_min = 3
      AND event_group IN ('crs', 'neurotoxicity'))
  GROUP BY study_id
)
SELECT s.study_id, s.acronym, a.product_id, p.name AS product_name, s.design, d.design_group, s.phase,
       s.intervention_class, s.setting, sa.arm_id AS summary_arm_id,
       (SELECT count(*) FROM publications pu
        WHERE pu.study_id = s.study_id AND pu.report_type <> 'third_party_summary') AS n_publications,
       n.n AS n_treated, eff.complete_remission_percent, eff.response_definition, eff.efs_12m_percent,
       eff.os_12m_percent, tox.crs_grade3plus_percent, tox.neurotox_grade3plus_percent, derived.derived_counts
FROM studies s
JOIN study_designs d USING (study_id)
LEFT JOIN summary_arms sa USING (study_id)
LEFT JOIN arms a ON a.arm_id = sa.arm_id
LEFT JOIN products p ON p.product_id = a.product_id
LEFT JOIN (SELECT * FROM summary_participants WHERE pick = 1 AND NOT third_party) n USING (study_id)
LEFT JOIN eff USING (study_id)
LEFT JOIN tox USING (study_id)
LEFT JOIN derived USING (study_id)
ORDER BY s.study_id;

-- Coverage: one row per study and core figure of a meta-analysis. The figure is the one study_summary
-- shows and pedall pool uses (the ranked candidates above, pick = 1), or, when there is none, why: the
-- readable sources do not report it, or no source of the study could be read at all. A time-to-event
-- item shows the 12-month figure where there is one, else the nearest time point, else a median.
CREATE VIEW coverage_items AS
SELECT * FROM (VALUES
  (1, 'n_enrolled', 'N enrolled or randomized', 'participant_flow', NULL, NULL),
  (2, 'n_treated', 'N infused or treated', 'participant_flow', NULL, NULL),
  (3, 'complete_remission', 'Complete remission (CR/CRi, CR/CRh or CR)', 'outcomes', 'complete_remission', NULL),
  (4, 'mrd_negative_remission', 'MRD-negative remission', 'outcomes', 'mrd_negative_remission', NULL),
  (5, 'efs', 'EFS (12 months, else another time point or median)', 'outcomes', 'event_free_survival', NULL),
  (6, 'os', 'OS (12 months, else another time point or median)', 'outcomes', 'overall_survival', NULL),
  (7, 'rfs_dfs', 'RFS, DFS or LFS', 'outcomes', 'relapse_free_survival', NULL),
  (8, 'crs_any', 'CRS, any grade', 'adverse_events', 'crs', 1),
  (9, 'crs_grade3plus', 'CRS, grade >=3', 'adverse_events', 'crs', 3),
  (10, 'neurotox_any', 'Neurotoxicity/ICANS, any grade', 'adverse_events', 'neurotoxicity', 1),
  (11, 'neurotox_grade3plus', 'Neurotoxicity/ICANS, grade >=3', 'adverse_events', 'neurotoxicity', 3),
  (12, 'sos_vod', 'SOS/VOD (inotuzumab)', 'adverse_events', 'sos_vod', 1)
) AS t(item_order, item, item_label, source_table, family, grade_min);

CREATE VIEW coverage AS
WITH origin AS (  -- the schema's order of value origins (reported, calculated, read from a figure)
  SELECT CAST(unnest(enum_range(NULL::participant_flow_value_origin)) AS VARCHAR) AS value_origin,
         generate_subscripts(enum_range(NULL::participant_flow_value_origin), 1) AS o
), flow AS (
  SELECT a.study_id, CASE WHEN f.stage IN ('enrolled', 'randomized') THEN 'n_enrolled' END AS item, f.n,
         f.publication_id, CAST(f.value_origin AS VARCHAR) AS value_origin, r.third_party, r.recency_rank,
         sa.arm_id IS NULL AS other_arm
  FROM participant_flow f
  JOIN arms a USING (arm_id)
  JOIN publication_recency r USING (publication_id)
  LEFT JOIN summary_arms sa USING (arm_id)
  WHERE f.stage IN ('enrolled', 'randomized') AND a.role NOT IN ('factor_group', 'analysis_set')
), figures AS (
  SELECT study_id, item, CAST(n AS VARCHAR) AS value, CAST(NULL AS DOUBLE) AS percent, publication_id,
         value_origin, third_party, CAST(NULL AS VARCHAR) AS response_definition, CAST(NULL AS DOUBLE) AS timepoint_months,
         false AS events_derived, CAST(NULL AS BOOLEAN) AS poolable, CAST(NULL AS VARCHAR) AS unpoolable_reason,
         count(*) OVER (PARTITION BY study_id, item) AS n_rows,
         row_number() OVER (PARTITION BY study_id, item
                            ORDER BY third_party, other_arm, (SELECT o FROM origin WHERE origin.value_origin = flow.value_origin),
                                     recency_rank, n DESC) AS rn
  FROM flow
  UNION ALL
  SELECT study_id, 'n_treated', CAST(n AS VARCHAR), NULL, publication_id, value_origin, third_party, NULL, NULL,
         false, NULL, NULL, count(*) OVER (PARTITION BY study_id), pick
  FROM summary_participants
  UNION ALL
  SELECT c.study_id, i.item,
         concat_ws(' ',
           CASE WHEN c.n_events IS NOT NULL AND c.n_total IS NOT NULL THEN c.n_events || '/' || c.n_total END,
           CASE WHEN c.kind = 'binary' AND c.n_events IS NOT NULL AND c.n_total > 0
                THEN CAST(round(100.0 * c.n_events / c.n_total, 1) AS VARCHAR) || '%'
                WHEN c.estimate IS NOT NULL
                THEN CAST(c.estimate AS VARCHAR) || CASE WHEN c.estimate_type = 'median' THEN ' months' ELSE '%' END END,
           CASE WHEN c.events_derived THEN '(count derived from the printed ' || CAST(c.estimate AS VARCHAR) || '%)' END,
           CASE WHEN c.timepoint_months IS NOT NULL AND c.kind = 'time_to_event'
                THEN 'at ' || CAST(c.timepoint_months AS VARCHAR) || ' months' END,
           CASE WHEN c.estimate_type = 'median' AND c.estimate IS NULL THEN 'median not reached'
                WHEN c.estimate_type = 'median' THEN '(median)' END,
           CASE WHEN c.member_rank > 1 THEN '(' || c.response_definition || ')' END,
           CASE WHEN NOT c.whole_study THEN '(dose cohort ' || c.arm_id || ' only)' END),
         CASE WHEN c.kind = 'binary' AND c.n_events IS NOT NULL AND c.n_total > 0 THEN 100.0 * c.n_events / c.n_total
              ELSE c.estimate END,
         c.publication_id, c.value_origin, c.third_party, c.response_definition, c.timepoint_months, c.events_derived,
         c.poolable, c.unpoolable_reason,
         count(*) OVER (PARTITION BY c.study_id, i.item),
         row_number() OVER (PARTITION BY c.study_id, i.item ORDER BY c.third_party,
           CASE WHEN c.kind = 'time_to_event' THEN coalesce(c.timepoint_months = 12 AND c.estimate_type <> 'median', false) END DESC,
           CASE WHEN c.kind = 'time_to_event' THEN c.estimate_type = 'median' END,
           CASE WHEN c.kind = 'time_to_event' THEN abs(c.timepoint_months - 12) END NULLS LAST,
           CASE WHEN c.kind = 'time_to_event' THEN c.timepoint_months END, c.pick)
  FROM summary_outcome_candidates c JOIN coverage_items i ON i.family = c.family AND i.source_table = 'outcomes'
  UNION ALL
  SELECT c.study_id, i.item,
         concat_ws(' ',
           CASE WHEN c.n_events IS NOT NULL AND c.n_total IS NOT NULL THEN c.n_events || '/' || c.n_total END,
           CASE WHEN c.n_events IS NOT NULL AND c.n_total > 0
                THEN CAST(round(100.0 * c.n_events / c.n_total, 1) AS VARCHAR) || '%'
                WHEN c.estimate IS NOT NULL THEN CAST(c.estimate AS VARCHAR) || '%' END,
           CASE WHEN c.events_derived THEN '(count derived from the printed ' || CAST(c.estimate AS VARCHAR) || '%)' END,
           CASE WHEN c.summed_from IS NOT NULL THEN '(' || c.summed_from || ')' END,
           CASE WHEN c.grade_basis = 'severe_undefined' THEN '("severe", grade not defined)' END,
           CASE WHEN c.attribution = 'treatment_related' THEN '(related)' END,
           CASE WHEN NOT c.whole_study THEN '(dose cohort ' || c.arm_id || ' only)' END),
         CASE WHEN c.n_events IS NOT NULL AND c.n_total > 0 THEN 100.0 * c.n_events / c.n_total ELSE c.estimate END,
         c.publication_id, c.value_origin, c.third_party, c.response_definition, NULL, c.events_derived,
         c.poolable, c.unpoolable_reason, count(*) OVER (PARTITION BY c.study_id, i.item), c.pick
  FROM summary_adverse_event_candidates c
  JOIN coverage_items i ON i.family = c.event_group AND i.grade_min = c.grade_min AND i.source_table = 'adverse_events'
), readable AS (
  SELECT study_id, max(CASE evidence_read WHEN 'full_text' THEN 3 WHEN 'tables' THEN 2
                                          WHEN 'abstract' THEN 1 ELSE 0 END) AS depth
  FROM publications GROUP BY study_id
)
SELECT s.study_id, s.intervention_class, i.item_order, i.item, i.item_label,
       CASE WHEN b.study_id IS NOT NULL AND b.third_party THEN 'third_party_only'
            WHEN b.study_id IS NOT NULL THEN b.value_origin
            WHEN i.item = 'sos_vod' AND s.intervention_class <> 'antibody_drug_conjugate' THEN 'not_applicable'
            WHEN coalesce(rd.depth, 0) = 0 THEN 'source_not_readable'
            ELSE 'not_in_readable_sources' END AS status,
       b.value, b.percent, b.response_definition, b.timepoint_months, b.events_derived, b.poolable,
       b.unpoolable_reason, b.publication_id, CAST(p.report_type AS VARCHAR) AS report_type,
       coalesce(b.n_rows, 0) AS n_rows,
       CASE coalesce(rd.depth, 0) WHEN 3 THEN 'full_text' WHEN 2 THEN 'tables' WHEN 1 THEN 'abstract'
                                  ELSE 'not_found' END AS deepest_source_read
FROM studies s
CROSS JOIN coverage_items i
LEFT JOIN (SELECT * FROM figures WHERE rn = 1) b ON b.study_id = s.study_id AND b.item = i.item
LEFT JOIN publications p ON p.publication_id = b.publication_id
LEFT JOIN readable rd ON rd.study_id = s.study_id
ORDER BY s.study_id, i.item_order;

COMMENT ON VIEW publication_recency IS 'Publications ranked within their study: 1 = newest data cutoff (else newest year); third-party summaries rank after every report of the trial itself (third_party = true).';
COMMENT ON VIEW latest_outcomes_all IS 'As latest_outcomes, but keeping figures that only a third-party summary gives (third_party = true); a report of the trial itself always wins over a third-party one.';
COMMENT ON VIEW latest_outcomes IS 'For each study, arm, comparator, measure, population, subgroup, estimate type and time point, the outcome row from the newest publication, so that pooled analyses count each trial once. Third-party summaries are left out (see latest_outcomes_all).';
COMMENT ON VIEW binary_outcomes IS 'Every outcome (estimate_type proportion) and adverse-event figure with events (xi) and total (ni): proportion, Wilson 95% CI in percent, and metafor PLO logit yi with sampling variance vi (0.5 added to both cells only when a cell is zero).';
COMMENT ON VIEW survival_outcomes IS 'Kaplan-Meier and cumulative-incidence estimates at time points (percent) with CIs and a standard error derived from the CI assuming symmetry on the percent scale.';
COMMENT ON VIEW summary_arms IS 'The arm standing for each study in study_summary, coverage and pedall pool: pooled dose cohorts, else the single arm or whole cohort, else the first experimental arm; never a factor group or an analysis set.';
COMMENT ON VIEW population_counts IS 'The participant-flow count of each arm, analysis population and publication (population_stages): the denominator used where a figure prints none.';
COMMENT ON VIEW proportion_counts IS 'For every proportion row (outcomes of estimate_type proportion, adverse events): the count used, either reported or derived (events_derived) where the row prints a percent and a denominator is known (its own n_total, or the participant-flow count of the same arm, population and publication, total_from_flow) and exactly one whole number of events reproduces the percent at its printed decimals; n_counts_matching says how many did; denominator is the known denominator. Never written into data/.';
COMMENT ON VIEW outcome_families IS 'Endpoint families (table endpoint_families, from measures.schema.json endpointFamilies) with their members in order of preference, plus every measure as a family of its own.';
COMMENT ON VIEW study_summary IS 'One row per study: product, design, N treated or infused, complete remission (the endpoint family complete_remission, with the response_definition used), 12-month EFS and OS, grade >=3 CRS and neurotoxicity of its summary arm, where reported: the pick = 1 figures of summary_outcome_candidates and summary_adverse_event_candidates, which pedall pool uses too; percents computed from counts where there are counts; derived_counts names figures whose count was derived from a printed percent.';
COMMENT ON VIEW study_designs IS 'Each study''s design and its group (interventional or observational), from studies.schema.json designGroups (table design_groups). pedall pool uses interventional studies unless --design says otherwise.';
COMMENT ON VIEW candidate_arms IS 'The arms whose figures can stand for a study: its summary arm (arm_rank 0), then its dose cohorts (arm_rank 1), used only where the summary arm gives no poolable figure of that kind.';
COMMENT ON VIEW summary_outcome_candidates IS 'Outcome figures of each study''s summary arm (else a dose cohort, whole_study = false) that can stand for the study, by endpoint family (outcome_families: e.g. complete_remission, and each measure alone), ranked by pick within study, family (and time point for time-to-event measures): own report before third-party summary, poolable before not (unpoolable_reason says why not), summary arm before dose cohort, member order (response_definition), population in schema order, newest publication, earliest time point. Counts include those derived from printed percents (events_derived). pick = 1 is what study_summary and coverage show and pedall pool uses.';
COMMENT ON VIEW summary_adverse_event_candidates IS 'Adverse-event counts (grade G to 5) of each study''s summary arm (else a dose cohort, whole_study = false) by event group (adverse_events.schema.json eventGroups; each event is also its own group), ranked by pick within study, group and lowest grade: own report before third-party summary, poolable before not, summary arm before dose cohort, a printed G-5 count before one summed from rows giving every grade from G to 5 (summed_from), all-cause before treatment-related, graded before an undefined "severe" (grade_basis severe_undefined, treated as grade >=3), population in schema order, newest publication. A grade 3-only or 3-4 row alone never counts as grade >=3. pick = 1 is what study_summary and coverage show and pedall pool uses.';
COMMENT ON VIEW summary_participants IS 'N infused or treated of each study''s summary arm, ranked by pick: own report before third-party summary, newest publication, infused before treated. pick = 1 (not third-party) is study_summary.n_treated and coverage''s n_treated.';
COMMENT ON VIEW coverage_items IS 'The core figures of the coverage view, in display order, with the endpoint family or event group (and lowest grade) each is read from.';
COMMENT ON VIEW coverage IS 'One row per study and core figure (N, complete remission, MRD-negative remission, EFS, OS, RFS/DFS/LFS, CRS and neurotoxicity any grade and grade >=3, SOS/VOD for inotuzumab): the figure study_summary shows and pedall pool uses (pick = 1 of the candidate views; for EFS, OS and RFS the 12-month figure, else the nearest time point, else a median), with its percent, response_definition, whether it can be pooled and why not; status is its value_origin (reported, calculated, read_from_figure), third_party_only, not_applicable, not_in_readable_sources (the sources that could be read do not give it) or source_not_readable (no source of the study could be read).';

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
