-- name: st_concat_null
SELECT concat('a', NULL) AS r;
-- name: st_concat_basic
SELECT concat('id-', 5, '-', 'x') AS r;
-- name: st_concat_columns_null
SELECT customer_id, concat(name, '/', country) AS r FROM sd.customers;
-- name: st_concat_ws_null
SELECT concat_ws('-', 'a', NULL, 'b') AS r;
-- name: st_concat_ws_array
SELECT concat_ws(',', array('x', 'y', 'z')) AS r;
-- name: st_pipe_concat
SELECT 'a' || 'b' AS a, 'a' || NULL AS b;
-- name: st_split_index0
SELECT split('a,b,c', ',')[0] AS r;
-- name: st_split_index_past_end
SELECT split('a,b,c', ',')[5] AS r;
-- name: st_split_array
SELECT split('a,b,c', ',') AS r;
-- name: st_split_regex
SELECT split('a1b22c', '[0-9]+') AS r;
-- name: st_split_limit
SELECT split('a,b,c', ',', 2) AS r;
-- name: st_split_table
SELECT id, split(tags, ',')[0] AS first_tag FROM sd.words;
-- name: st_substring
SELECT substring('hello', 2, 3) AS a, substr('hello', -3) AS b, substring('hello', 3) AS c;
-- name: st_substring_pos0
SELECT substring('hello', 0, 2) AS r;
-- name: st_left_right
SELECT left('hello', 2) AS l, right('hello', 2) AS r;
-- name: st_case
SELECT upper('abc') AS u, lower('ABC') AS l, initcap('hello wORLD') AS i;
-- name: st_trim
SELECT trim('  x  ') AS t, ltrim('  x') AS l, rtrim('x  ') AS r;
-- name: st_trim_chars
SELECT trim(BOTH 'x' FROM 'xxaxx') AS b, trim(LEADING 'x' FROM 'xxa') AS l;
-- name: st_pad
SELECT lpad('5', 3, '0') AS l, rpad('ab', 5, '*') AS r, lpad('abcdef', 3, '0') AS cut;
-- name: st_length_unicode
SELECT length('héllo') AS a, char_length('héllo') AS b, octet_length('héllo') AS c;
-- name: st_len
SELECT len('abc') AS r;
-- name: st_instr_locate
SELECT instr('hello', 'l') AS a, locate('l', 'hello') AS b, locate('l', 'hello', 4) AS c;
-- name: st_position
SELECT position('l' IN 'hello') AS r;
-- name: st_replace_translate
SELECT replace('aaa', 'a', 'b') AS r, translate('abc', 'ab', 'xy') AS t;
-- name: st_regexp_replace
SELECT regexp_replace('2025-01-16', '-', '/') AS r;
-- name: st_regexp_replace_groups
SELECT regexp_replace('John Smith', '(\\w+) (\\w+)', '$2 $1') AS r;
-- name: st_regexp_extract
SELECT regexp_extract('abc123def', '([0-9]+)', 1) AS r;
-- name: st_regexp_extract_group0
SELECT regexp_extract('abc123def456', '[0-9]+', 0) AS r;
-- name: st_regexp_extract_nomatch
SELECT regexp_extract('abc', '([0-9]+)', 1) AS r;
-- name: st_regexp_extract_all
SELECT regexp_extract_all('a1b22c333', '([0-9]+)', 1) AS r;
-- name: st_rlike
SELECT 'abc' RLIKE '^a.c$' AS a, 'abc' REGEXP 'z' AS b;
-- name: st_like
SELECT 'abc' LIKE 'a%' AS a, 'a_c' LIKE 'a\\_c' AS b, 'ABC' LIKE 'a%' AS c;
-- name: st_ilike
SELECT 'ABC' ILIKE 'a%' AS r;
-- name: st_reverse_repeat
SELECT reverse('abc') AS r, repeat('ab', 3) AS p;
-- name: st_ascii_chr
SELECT ascii('A') AS a, chr(66) AS b, char(67) AS c;
-- name: st_format_string
SELECT format_string('%05d-%s', 42, 'x') AS f, printf('%.2f', CAST(3.14159 AS DOUBLE)) AS p;
-- name: st_format_number
SELECT format_number(1234567.891, 2) AS r;
-- name: st_hashes
SELECT md5('abc') AS m, sha2('abc', 256) AS s, sha1('abc') AS h, crc32('abc') AS c;
-- name: st_base64
SELECT base64('abc') AS b, decode(unbase64('YWJj'), 'UTF-8') AS d;
-- name: st_split_part
SELECT split_part('a,b,c', ',', 2) AS r;
-- name: st_substring_index
SELECT substring_index('www.apache.org', '.', 2) AS a, substring_index('www.apache.org', '.', -1) AS b;
-- name: st_levenshtein_soundex
SELECT levenshtein('kitten', 'sitting') AS l, soundex('Robert') AS s;
-- name: st_overlay
SELECT overlay('Spark SQL' PLACING '_' FROM 6 FOR 1) AS r;
-- name: st_startswith
SELECT startswith('spark', 'sp') AS a, endswith('spark', 'rk') AS b, contains('spark', 'ar') AS c;
-- name: st_elt_find_in_set
SELECT elt(2, 'a', 'b', 'c') AS e, find_in_set('b', 'a,b,c') AS f;
-- name: st_group_by_upper
SELECT upper(region) AS r, count(*) AS n FROM sd.sales GROUP BY upper(region);
-- name: st_string_compare
SELECT 'a' < 'b' AS a, 'B' < 'a' AS b, 'abc' = 'abc' AS c;
-- name: st_string_literal_escapes
SELECT 'it''s' AS a, length('a\tb') AS b;
-- name: st_double_quoted_string
SELECT "double quoted" AS r;
-- name: st_lower_null
SELECT lower(NULL) AS r;
-- name: st_word_count
SELECT word, count(*) AS n FROM (SELECT explode(split(line, ' ')) AS word FROM sd.words) GROUP BY word;
-- name: st_space
SELECT concat('[', space(3), ']') AS r;
-- name: st_mask_like_filter
SELECT name FROM sd.customers WHERE name LIKE '%e%';
-- name: st_to_json_string
SELECT to_json(named_struct('a', 1, 'b', 'x')) AS r;
-- name: st_get_json_object
SELECT get_json_object('{"a": {"b": 2}, "c": [1, 2]}', '$.a.b') AS a,
  get_json_object('{"a": {"b": 2}, "c": [1, 2]}', '$.c[1]') AS c;
-- name: st_json_tuple
SELECT json_tuple('{"a": 1, "b": "x"}', 'a', 'b');
