-- name: am_array_literal
SELECT array(1, 2, 3) AS a;
-- name: am_array_subscript
SELECT array(10, 20, 30)[0] AS first, array(10, 20, 30)[2] AS last;
-- name: am_array_subscript_out_of_range
SELECT array(10, 20, 30)[3] AS r;
-- name: am_element_at
SELECT element_at(array(1, 2, 3), 1) AS a, element_at(array(1, 2, 3), -1) AS b;
-- name: am_size
SELECT size(array(1, 2)) AS a, size(map('a', 1)) AS b;
-- name: am_size_null
SELECT size(CAST(NULL AS ARRAY<INT>)) AS r;
-- name: am_array_contains
SELECT array_contains(array(1, 2, 3), 2) AS a, array_contains(array('a'), 'b') AS b;
-- name: am_array_distinct_sort
SELECT array_distinct(array(3, 1, 3, 2)) AS d, array_sort(array(3, 1, 2)) AS s;
-- name: am_sort_array_desc
SELECT sort_array(array(3, 1, 2), false) AS r;
-- name: am_array_max_min
SELECT array_max(array(3, 1, 2)) AS mx, array_min(array(3, 1, 2)) AS mn;
-- name: am_array_position_remove
SELECT array_position(array('a', 'b', 'c'), 'b') AS p, array_remove(array(1, 2, 1), 1) AS r;
-- name: am_set_ops
SELECT array_union(array(1, 2), array(2, 3)) AS u, array_intersect(array(1, 2), array(2, 3)) AS i,
  array_except(array(1, 2), array(2, 3)) AS e;
-- name: am_arrays_zip
SELECT arrays_zip(array(1, 2), array('a', 'b')) AS r;
-- name: am_flatten
SELECT flatten(array(array(1, 2), array(3))) AS r;
-- name: am_sequence
SELECT sequence(1, 5) AS a, sequence(1, 10, 3) AS b;
-- name: am_slice
SELECT slice(array(1, 2, 3, 4), 2, 2) AS r;
-- name: am_array_join
SELECT array_join(array('a', 'b', 'c'), ',') AS a, array_join(array('a', NULL, 'c'), ',', '?') AS b;
-- name: am_concat_arrays
SELECT concat(array(1, 2), array(3)) AS r;
-- name: am_reverse_array
SELECT reverse(array(1, 2, 3)) AS r;
-- name: am_explode
SELECT explode(array(1, 2, 3)) AS x;
-- name: am_explode_default_name
SELECT explode(array('a', 'b'));
-- name: am_posexplode
SELECT posexplode(array('a', 'b'));
-- name: am_explode_outer
SELECT id, explode_outer(split(tags, ',')) AS tag FROM sd.words;
-- name: am_explode_column
SELECT id, explode(split(tags, ',')) AS tag FROM sd.words;
-- name: am_lateral_view
SELECT id, tag FROM sd.words LATERAL VIEW explode(split(tags, ',')) t AS tag;
-- name: am_lateral_view_outer
SELECT id, tag FROM sd.words LATERAL VIEW OUTER explode(split(tags, ',')) t AS tag;
-- name: am_lateral_view_posexplode
SELECT id, pos, tag FROM sd.words LATERAL VIEW posexplode(split(tags, ',')) t AS pos, tag;
-- name: am_explode_map
SELECT explode(map('a', 1, 'b', 2)) AS (k, v);
-- name: am_inline
SELECT inline(array(named_struct('a', 1, 'b', 'x'), named_struct('a', 2, 'b', 'y')));
-- name: am_transform
SELECT transform(array(1, 2, 3), x -> x * 2) AS r;
-- name: am_filter
SELECT filter(array(1, 2, 3, 4), x -> x % 2 = 0) AS r;
-- name: am_aggregate
SELECT aggregate(array(1, 2, 3), 0, (acc, x) -> acc + x) AS r;
-- name: am_exists_forall
SELECT exists(array(1, 2, 3), x -> x > 2) AS e, forall(array(1, 2, 3), x -> x > 0) AS f;
-- name: am_zip_with
SELECT zip_with(array(1, 2), array(10, 20), (a, b) -> a + b) AS r;
-- name: am_map_literal_lookup
SELECT map('a', 1, 'b', 2)['a'] AS a, map('a', 1)['z'] AS missing;
-- name: am_map_keys_values
SELECT map_keys(map('a', 1, 'b', 2)) AS k, map_values(map('a', 1, 'b', 2)) AS v;
-- name: am_element_at_map
SELECT element_at(map('a', 1, 'b', 2), 'b') AS r;
-- name: am_map_from_arrays
SELECT map_from_arrays(array('x', 'y'), array(1, 2)) AS r;
-- name: am_str_to_map
SELECT str_to_map('a:1,b:2', ',', ':') AS m, str_to_map('a:1,b:2', ',', ':')['b'] AS b;
-- name: am_map_concat
SELECT map_concat(map('a', 1), map('b', 2)) AS r;
-- name: am_named_struct_field
SELECT named_struct('a', 1, 'b', 'x').a AS a, named_struct('a', 1, 'b', 'x') AS s;
-- name: am_struct_fn
SELECT struct(1 AS a, 'x' AS b) AS s;
-- name: am_from_json
SELECT from_json('{"a": 1, "b": "x"}', 'a INT, b STRING').a AS a;
-- name: am_collect_list_sorted
SELECT region, sort_array(collect_list(product)) AS products FROM sd.sales GROUP BY region;
-- name: am_collect_set_sorted
SELECT region, array_sort(collect_set(product)) AS products FROM sd.sales GROUP BY region;
-- name: am_array_agg
SELECT sort_array(array_agg(id)) AS ids FROM sd.sales WHERE region = 'north';
-- name: am_array_of_struct_table
SELECT customer_id, sort_array(collect_list(named_struct('id', id, 'qty', qty))) AS sales
FROM sd.sales WHERE customer_id IN (1, 2) GROUP BY customer_id;
-- name: am_size_of_split_column
SELECT id, size(split(line, ' ')) AS words FROM sd.words;
-- name: am_array_contains_column
SELECT id FROM sd.words WHERE array_contains(split(tags, ','), 'a');
-- name: am_map_from_entries
SELECT map_from_entries(array(struct('a', 1), struct('b', 2))) AS r;
