//! The declared types of PostgreSQL 15's system relation columns whose values Sluice
//! sends in the same wire form as another type: `name`, `"char"`, `pg_node_tree` and
//! `character varying` columns hold text, `oid` and `xid` columns `int4` values. The
//! server describes a result column read straight from one of these columns with
//! PostgreSQL's type (`relname` is `name`, OID 19, not `text`), as drivers and BI tools
//! see it from PostgreSQL ([`crate::sql::column_origins`]).
//!
//! Generated from PostgreSQL 15's catalog (domains as their base types, as PostgreSQL
//! describes a result):
//!
//! ```sql
//! SELECT n.nspname, c.relname, a.attname,
//!        CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
//! FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
//! JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
//! WHERE n.nspname IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'v')
//!   AND a.attnum > 0
//!   AND (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END)
//!       IN (18, 19, 26, 28, 194, 1043)
//! ORDER BY 1, 2, a.attnum;
//! ```

/// The declared type OID of column `column` of system relation `schema.relation`, if
/// it is one of those listed.
pub fn declared_type(schema: &str, relation: &str, column: &str) -> Option<u32> {
    let relations = match schema {
        "pg_catalog" => PG_CATALOG,
        "information_schema" => INFORMATION_SCHEMA,
        _ => return None,
    };
    let at = relations
        .binary_search_by(|(name, _)| name.cmp(&relation))
        .ok()?;
    relations[at]
        .1
        .iter()
        .find(|(name, _)| *name == column)
        .map(|(_, oid)| *oid)
}

type Columns = &'static [(&'static str, u32)];

/// `information_schema`'s relations, sorted by name.
#[rustfmt::skip]
const INFORMATION_SCHEMA: &[(&str, Columns)] = &[
    ("_pg_foreign_data_wrappers", &[("oid", 26), ("fdwowner", 26), ("foreign_data_wrapper_catalog", 19), ("foreign_data_wrapper_name", 19), ("authorization_identifier", 19), ("foreign_data_wrapper_language", 1043)]),
    ("_pg_foreign_servers", &[("oid", 26), ("foreign_server_catalog", 19), ("foreign_server_name", 19), ("foreign_data_wrapper_catalog", 19), ("foreign_data_wrapper_name", 19), ("foreign_server_type", 1043), ("foreign_server_version", 1043), ("authorization_identifier", 19)]),
    ("_pg_foreign_table_columns", &[("nspname", 19), ("relname", 19), ("attname", 19)]),
    ("_pg_foreign_tables", &[("foreign_table_catalog", 19), ("foreign_table_schema", 19), ("foreign_table_name", 19), ("foreign_server_catalog", 19), ("foreign_server_name", 19), ("authorization_identifier", 19)]),
    ("_pg_user_mappings", &[("oid", 26), ("umuser", 26), ("authorization_identifier", 19), ("foreign_server_catalog", 19), ("foreign_server_name", 19), ("srvowner", 19)]),
    ("administrable_role_authorizations", &[("grantee", 19), ("role_name", 19), ("is_grantable", 1043)]),
    ("applicable_roles", &[("grantee", 19), ("role_name", 19), ("is_grantable", 1043)]),
    ("attributes", &[("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("attribute_name", 19), ("attribute_default", 1043), ("is_nullable", 1043), ("data_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("interval_type", 1043), ("attribute_udt_catalog", 19), ("attribute_udt_schema", 19), ("attribute_udt_name", 19), ("scope_catalog", 19), ("scope_schema", 19), ("scope_name", 19), ("dtd_identifier", 19), ("is_derived_reference_attribute", 1043)]),
    ("character_sets", &[("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("character_repertoire", 19), ("form_of_use", 19), ("default_collate_catalog", 19), ("default_collate_schema", 19), ("default_collate_name", 19)]),
    ("check_constraint_routine_usage", &[("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19), ("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19)]),
    ("check_constraints", &[("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19), ("check_clause", 1043)]),
    ("collation_character_set_applicability", &[("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19)]),
    ("collations", &[("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("pad_attribute", 1043)]),
    ("column_column_usage", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19), ("dependent_column", 19)]),
    ("column_domain_usage", &[("domain_catalog", 19), ("domain_schema", 19), ("domain_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19)]),
    ("column_options", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19), ("option_name", 19), ("option_value", 1043)]),
    ("column_privileges", &[("grantor", 19), ("grantee", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("column_udt_usage", &[("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19)]),
    ("columns", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19), ("column_default", 1043), ("is_nullable", 1043), ("data_type", 1043), ("interval_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("domain_catalog", 19), ("domain_schema", 19), ("domain_name", 19), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("scope_catalog", 19), ("scope_schema", 19), ("scope_name", 19), ("dtd_identifier", 19), ("is_self_referencing", 1043), ("is_identity", 1043), ("identity_generation", 1043), ("identity_start", 1043), ("identity_increment", 1043), ("identity_maximum", 1043), ("identity_minimum", 1043), ("identity_cycle", 1043), ("is_generated", 1043), ("generation_expression", 1043), ("is_updatable", 1043)]),
    ("constraint_column_usage", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19), ("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19)]),
    ("constraint_table_usage", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19)]),
    ("data_type_privileges", &[("object_catalog", 19), ("object_schema", 19), ("object_name", 19), ("object_type", 1043), ("dtd_identifier", 19)]),
    ("domain_constraints", &[("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19), ("domain_catalog", 19), ("domain_schema", 19), ("domain_name", 19), ("is_deferrable", 1043), ("initially_deferred", 1043)]),
    ("domain_udt_usage", &[("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("domain_catalog", 19), ("domain_schema", 19), ("domain_name", 19)]),
    ("domains", &[("domain_catalog", 19), ("domain_schema", 19), ("domain_name", 19), ("data_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("interval_type", 1043), ("domain_default", 1043), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("scope_catalog", 19), ("scope_schema", 19), ("scope_name", 19), ("dtd_identifier", 19)]),
    ("element_types", &[("object_catalog", 19), ("object_schema", 19), ("object_name", 19), ("object_type", 1043), ("collection_type_identifier", 19), ("data_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("interval_type", 1043), ("domain_default", 1043), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("scope_catalog", 19), ("scope_schema", 19), ("scope_name", 19), ("dtd_identifier", 19)]),
    ("enabled_roles", &[("role_name", 19)]),
    ("foreign_data_wrapper_options", &[("foreign_data_wrapper_catalog", 19), ("foreign_data_wrapper_name", 19), ("option_name", 19), ("option_value", 1043)]),
    ("foreign_data_wrappers", &[("foreign_data_wrapper_catalog", 19), ("foreign_data_wrapper_name", 19), ("authorization_identifier", 19), ("library_name", 1043), ("foreign_data_wrapper_language", 1043)]),
    ("foreign_server_options", &[("foreign_server_catalog", 19), ("foreign_server_name", 19), ("option_name", 19), ("option_value", 1043)]),
    ("foreign_servers", &[("foreign_server_catalog", 19), ("foreign_server_name", 19), ("foreign_data_wrapper_catalog", 19), ("foreign_data_wrapper_name", 19), ("foreign_server_type", 1043), ("foreign_server_version", 1043), ("authorization_identifier", 19)]),
    ("foreign_table_options", &[("foreign_table_catalog", 19), ("foreign_table_schema", 19), ("foreign_table_name", 19), ("option_name", 19), ("option_value", 1043)]),
    ("foreign_tables", &[("foreign_table_catalog", 19), ("foreign_table_schema", 19), ("foreign_table_name", 19), ("foreign_server_catalog", 19), ("foreign_server_name", 19)]),
    ("information_schema_catalog_name", &[("catalog_name", 19)]),
    ("key_column_usage", &[("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19)]),
    ("parameters", &[("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("parameter_mode", 1043), ("is_result", 1043), ("as_locator", 1043), ("parameter_name", 19), ("data_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("interval_type", 1043), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("scope_catalog", 19), ("scope_schema", 19), ("scope_name", 19), ("dtd_identifier", 19), ("parameter_default", 1043)]),
    ("referential_constraints", &[("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19), ("unique_constraint_catalog", 19), ("unique_constraint_schema", 19), ("unique_constraint_name", 19), ("match_option", 1043), ("update_rule", 1043), ("delete_rule", 1043)]),
    ("role_column_grants", &[("grantor", 19), ("grantee", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("role_routine_grants", &[("grantor", 19), ("grantee", 19), ("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("role_table_grants", &[("grantor", 19), ("grantee", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("privilege_type", 1043), ("is_grantable", 1043), ("with_hierarchy", 1043)]),
    ("role_udt_grants", &[("grantor", 19), ("grantee", 19), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("role_usage_grants", &[("grantor", 19), ("grantee", 19), ("object_catalog", 19), ("object_schema", 19), ("object_name", 19), ("object_type", 1043), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("routine_column_usage", &[("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19)]),
    ("routine_privileges", &[("grantor", 19), ("grantee", 19), ("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("routine_routine_usage", &[("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19)]),
    ("routine_sequence_usage", &[("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19), ("sequence_catalog", 19), ("sequence_schema", 19), ("sequence_name", 19)]),
    ("routine_table_usage", &[("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19)]),
    ("routines", &[("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("routine_catalog", 19), ("routine_schema", 19), ("routine_name", 19), ("routine_type", 1043), ("module_catalog", 19), ("module_schema", 19), ("module_name", 19), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("data_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("interval_type", 1043), ("type_udt_catalog", 19), ("type_udt_schema", 19), ("type_udt_name", 19), ("scope_catalog", 19), ("scope_schema", 19), ("scope_name", 19), ("dtd_identifier", 19), ("routine_body", 1043), ("routine_definition", 1043), ("external_name", 1043), ("external_language", 1043), ("parameter_style", 1043), ("is_deterministic", 1043), ("sql_data_access", 1043), ("is_null_call", 1043), ("sql_path", 1043), ("schema_level_routine", 1043), ("is_user_defined_cast", 1043), ("is_implicitly_invocable", 1043), ("security_type", 1043), ("to_sql_specific_catalog", 19), ("to_sql_specific_schema", 19), ("to_sql_specific_name", 19), ("as_locator", 1043), ("new_savepoint_level", 1043), ("is_udt_dependent", 1043), ("result_cast_from_data_type", 1043), ("result_cast_as_locator", 1043), ("result_cast_char_set_catalog", 19), ("result_cast_char_set_schema", 19), ("result_cast_char_set_name", 19), ("result_cast_collation_catalog", 19), ("result_cast_collation_schema", 19), ("result_cast_collation_name", 19), ("result_cast_interval_type", 1043), ("result_cast_type_udt_catalog", 19), ("result_cast_type_udt_schema", 19), ("result_cast_type_udt_name", 19), ("result_cast_scope_catalog", 19), ("result_cast_scope_schema", 19), ("result_cast_scope_name", 19), ("result_cast_dtd_identifier", 19)]),
    ("schemata", &[("catalog_name", 19), ("schema_name", 19), ("schema_owner", 19), ("default_character_set_catalog", 19), ("default_character_set_schema", 19), ("default_character_set_name", 19), ("sql_path", 1043)]),
    ("sequences", &[("sequence_catalog", 19), ("sequence_schema", 19), ("sequence_name", 19), ("data_type", 1043), ("start_value", 1043), ("minimum_value", 1043), ("maximum_value", 1043), ("increment", 1043), ("cycle_option", 1043)]),
    ("sql_features", &[("feature_id", 1043), ("feature_name", 1043), ("sub_feature_id", 1043), ("sub_feature_name", 1043), ("is_supported", 1043), ("is_verified_by", 1043), ("comments", 1043)]),
    ("sql_implementation_info", &[("implementation_info_id", 1043), ("implementation_info_name", 1043), ("character_value", 1043), ("comments", 1043)]),
    ("sql_parts", &[("feature_id", 1043), ("feature_name", 1043), ("is_supported", 1043), ("is_verified_by", 1043), ("comments", 1043)]),
    ("sql_sizing", &[("sizing_name", 1043), ("comments", 1043)]),
    ("table_constraints", &[("constraint_catalog", 19), ("constraint_schema", 19), ("constraint_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("constraint_type", 1043), ("is_deferrable", 1043), ("initially_deferred", 1043), ("enforced", 1043), ("nulls_distinct", 1043)]),
    ("table_privileges", &[("grantor", 19), ("grantee", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("privilege_type", 1043), ("is_grantable", 1043), ("with_hierarchy", 1043)]),
    ("tables", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("table_type", 1043), ("self_referencing_column_name", 19), ("reference_generation", 1043), ("user_defined_type_catalog", 19), ("user_defined_type_schema", 19), ("user_defined_type_name", 19), ("is_insertable_into", 1043), ("is_typed", 1043), ("commit_action", 1043)]),
    ("transforms", &[("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19), ("group_name", 19), ("transform_type", 1043)]),
    ("triggered_update_columns", &[("trigger_catalog", 19), ("trigger_schema", 19), ("trigger_name", 19), ("event_object_catalog", 19), ("event_object_schema", 19), ("event_object_table", 19), ("event_object_column", 19)]),
    ("triggers", &[("trigger_catalog", 19), ("trigger_schema", 19), ("trigger_name", 19), ("event_manipulation", 1043), ("event_object_catalog", 19), ("event_object_schema", 19), ("event_object_table", 19), ("action_condition", 1043), ("action_statement", 1043), ("action_orientation", 1043), ("action_timing", 1043), ("action_reference_old_table", 19), ("action_reference_new_table", 19), ("action_reference_old_row", 19), ("action_reference_new_row", 19)]),
    ("udt_privileges", &[("grantor", 19), ("grantee", 19), ("udt_catalog", 19), ("udt_schema", 19), ("udt_name", 19), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("usage_privileges", &[("grantor", 19), ("grantee", 19), ("object_catalog", 19), ("object_schema", 19), ("object_name", 19), ("object_type", 1043), ("privilege_type", 1043), ("is_grantable", 1043)]),
    ("user_defined_types", &[("user_defined_type_catalog", 19), ("user_defined_type_schema", 19), ("user_defined_type_name", 19), ("user_defined_type_category", 1043), ("is_instantiable", 1043), ("is_final", 1043), ("ordering_form", 1043), ("ordering_category", 1043), ("ordering_routine_catalog", 19), ("ordering_routine_schema", 19), ("ordering_routine_name", 19), ("reference_type", 1043), ("data_type", 1043), ("character_set_catalog", 19), ("character_set_schema", 19), ("character_set_name", 19), ("collation_catalog", 19), ("collation_schema", 19), ("collation_name", 19), ("interval_type", 1043), ("source_dtd_identifier", 19), ("ref_dtd_identifier", 19)]),
    ("user_mapping_options", &[("authorization_identifier", 19), ("foreign_server_catalog", 19), ("foreign_server_name", 19), ("option_name", 19), ("option_value", 1043)]),
    ("user_mappings", &[("authorization_identifier", 19), ("foreign_server_catalog", 19), ("foreign_server_name", 19)]),
    ("view_column_usage", &[("view_catalog", 19), ("view_schema", 19), ("view_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("column_name", 19)]),
    ("view_routine_usage", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("specific_catalog", 19), ("specific_schema", 19), ("specific_name", 19)]),
    ("view_table_usage", &[("view_catalog", 19), ("view_schema", 19), ("view_name", 19), ("table_catalog", 19), ("table_schema", 19), ("table_name", 19)]),
    ("views", &[("table_catalog", 19), ("table_schema", 19), ("table_name", 19), ("view_definition", 1043), ("check_option", 1043), ("is_updatable", 1043), ("is_insertable_into", 1043), ("is_trigger_updatable", 1043), ("is_trigger_deletable", 1043), ("is_trigger_insertable_into", 1043)]),
];

/// `pg_catalog`'s relations, sorted by name.
#[rustfmt::skip]
const PG_CATALOG: &[(&str, Columns)] = &[
    ("pg_aggregate", &[("aggkind", 18), ("aggfinalmodify", 18), ("aggmfinalmodify", 18), ("aggsortop", 26), ("aggtranstype", 26), ("aggmtranstype", 26)]),
    ("pg_am", &[("oid", 26), ("amname", 19), ("amtype", 18)]),
    ("pg_amop", &[("oid", 26), ("amopfamily", 26), ("amoplefttype", 26), ("amoprighttype", 26), ("amoppurpose", 18), ("amopopr", 26), ("amopmethod", 26), ("amopsortfamily", 26)]),
    ("pg_amproc", &[("oid", 26), ("amprocfamily", 26), ("amproclefttype", 26), ("amprocrighttype", 26)]),
    ("pg_attrdef", &[("oid", 26), ("adrelid", 26), ("adbin", 194)]),
    ("pg_attribute", &[("attrelid", 26), ("attname", 19), ("atttypid", 26), ("attalign", 18), ("attstorage", 18), ("attcompression", 18), ("attidentity", 18), ("attgenerated", 18), ("attcollation", 26)]),
    ("pg_auth_members", &[("roleid", 26), ("member", 26), ("grantor", 26)]),
    ("pg_authid", &[("oid", 26), ("rolname", 19)]),
    ("pg_available_extension_versions", &[("name", 19), ("schema", 19)]),
    ("pg_available_extensions", &[("name", 19)]),
    ("pg_cast", &[("oid", 26), ("castsource", 26), ("casttarget", 26), ("castfunc", 26), ("castcontext", 18), ("castmethod", 18)]),
    ("pg_class", &[("oid", 26), ("relname", 19), ("relnamespace", 26), ("reltype", 26), ("reloftype", 26), ("relowner", 26), ("relam", 26), ("relfilenode", 26), ("reltablespace", 26), ("reltoastrelid", 26), ("relpersistence", 18), ("relkind", 18), ("relreplident", 18), ("relrewrite", 26), ("relfrozenxid", 28), ("relminmxid", 28), ("relpartbound", 194)]),
    ("pg_collation", &[("oid", 26), ("collname", 19), ("collnamespace", 26), ("collowner", 26), ("collprovider", 18)]),
    ("pg_constraint", &[("oid", 26), ("conname", 19), ("connamespace", 26), ("contype", 18), ("conrelid", 26), ("contypid", 26), ("conindid", 26), ("conparentid", 26), ("confrelid", 26), ("confupdtype", 18), ("confdeltype", 18), ("confmatchtype", 18), ("conbin", 194)]),
    ("pg_conversion", &[("oid", 26), ("conname", 19), ("connamespace", 26), ("conowner", 26)]),
    ("pg_database", &[("oid", 26), ("datname", 19), ("datdba", 26), ("datlocprovider", 18), ("datfrozenxid", 28), ("datminmxid", 28), ("dattablespace", 26)]),
    ("pg_db_role_setting", &[("setdatabase", 26), ("setrole", 26)]),
    ("pg_default_acl", &[("oid", 26), ("defaclrole", 26), ("defaclnamespace", 26), ("defaclobjtype", 18)]),
    ("pg_depend", &[("classid", 26), ("objid", 26), ("refclassid", 26), ("refobjid", 26), ("deptype", 18)]),
    ("pg_description", &[("objoid", 26), ("classoid", 26)]),
    ("pg_enum", &[("oid", 26), ("enumtypid", 26), ("enumlabel", 19)]),
    ("pg_event_trigger", &[("oid", 26), ("evtname", 19), ("evtevent", 19), ("evtowner", 26), ("evtfoid", 26), ("evtenabled", 18)]),
    ("pg_extension", &[("oid", 26), ("extname", 19), ("extowner", 26), ("extnamespace", 26)]),
    ("pg_foreign_data_wrapper", &[("oid", 26), ("fdwname", 19), ("fdwowner", 26), ("fdwhandler", 26), ("fdwvalidator", 26)]),
    ("pg_foreign_server", &[("oid", 26), ("srvname", 19), ("srvowner", 26), ("srvfdw", 26)]),
    ("pg_foreign_table", &[("ftrelid", 26), ("ftserver", 26)]),
    ("pg_group", &[("groname", 19), ("grosysid", 26)]),
    ("pg_index", &[("indexrelid", 26), ("indrelid", 26), ("indexprs", 194), ("indpred", 194)]),
    ("pg_indexes", &[("schemaname", 19), ("tablename", 19), ("indexname", 19), ("tablespace", 19)]),
    ("pg_inherits", &[("inhrelid", 26), ("inhparent", 26)]),
    ("pg_init_privs", &[("objoid", 26), ("classoid", 26), ("privtype", 18)]),
    ("pg_language", &[("oid", 26), ("lanname", 19), ("lanowner", 26), ("lanplcallfoid", 26), ("laninline", 26), ("lanvalidator", 26)]),
    ("pg_largeobject", &[("loid", 26)]),
    ("pg_largeobject_metadata", &[("oid", 26), ("lomowner", 26)]),
    ("pg_locks", &[("database", 26), ("relation", 26), ("transactionid", 28), ("classid", 26), ("objid", 26)]),
    ("pg_matviews", &[("schemaname", 19), ("matviewname", 19), ("matviewowner", 19), ("tablespace", 19)]),
    ("pg_namespace", &[("oid", 26), ("nspname", 19), ("nspowner", 26)]),
    ("pg_opclass", &[("oid", 26), ("opcmethod", 26), ("opcname", 19), ("opcnamespace", 26), ("opcowner", 26), ("opcfamily", 26), ("opcintype", 26), ("opckeytype", 26)]),
    ("pg_operator", &[("oid", 26), ("oprname", 19), ("oprnamespace", 26), ("oprowner", 26), ("oprkind", 18), ("oprleft", 26), ("oprright", 26), ("oprresult", 26), ("oprcom", 26), ("oprnegate", 26)]),
    ("pg_opfamily", &[("oid", 26), ("opfmethod", 26), ("opfname", 19), ("opfnamespace", 26), ("opfowner", 26)]),
    ("pg_parameter_acl", &[("oid", 26)]),
    ("pg_partitioned_table", &[("partrelid", 26), ("partstrat", 18), ("partdefid", 26), ("partexprs", 194)]),
    ("pg_policies", &[("schemaname", 19), ("tablename", 19), ("policyname", 19)]),
    ("pg_policy", &[("oid", 26), ("polname", 19), ("polrelid", 26), ("polcmd", 18), ("polqual", 194), ("polwithcheck", 194)]),
    ("pg_prepared_xacts", &[("transaction", 28), ("owner", 19), ("database", 19)]),
    ("pg_proc", &[("oid", 26), ("proname", 19), ("pronamespace", 26), ("proowner", 26), ("prolang", 26), ("provariadic", 26), ("prokind", 18), ("provolatile", 18), ("proparallel", 18), ("prorettype", 26), ("proargdefaults", 194), ("prosqlbody", 194)]),
    ("pg_publication", &[("oid", 26), ("pubname", 19), ("pubowner", 26)]),
    ("pg_publication_namespace", &[("oid", 26), ("pnpubid", 26), ("pnnspid", 26)]),
    ("pg_publication_rel", &[("oid", 26), ("prpubid", 26), ("prrelid", 26), ("prqual", 194)]),
    ("pg_publication_tables", &[("pubname", 19), ("schemaname", 19), ("tablename", 19)]),
    ("pg_range", &[("rngtypid", 26), ("rngsubtype", 26), ("rngmultitypid", 26), ("rngcollation", 26), ("rngsubopc", 26)]),
    ("pg_replication_origin", &[("roident", 26)]),
    ("pg_replication_origin_status", &[("local_id", 26)]),
    ("pg_replication_slots", &[("slot_name", 19), ("plugin", 19), ("datoid", 26), ("database", 19), ("xmin", 28), ("catalog_xmin", 28)]),
    ("pg_rewrite", &[("oid", 26), ("rulename", 19), ("ev_class", 26), ("ev_type", 18), ("ev_enabled", 18), ("ev_qual", 194), ("ev_action", 194)]),
    ("pg_roles", &[("rolname", 19), ("oid", 26)]),
    ("pg_rules", &[("schemaname", 19), ("tablename", 19), ("rulename", 19)]),
    ("pg_seclabel", &[("objoid", 26), ("classoid", 26)]),
    ("pg_seclabels", &[("objoid", 26), ("classoid", 26), ("objnamespace", 26)]),
    ("pg_sequence", &[("seqrelid", 26), ("seqtypid", 26)]),
    ("pg_sequences", &[("schemaname", 19), ("sequencename", 19), ("sequenceowner", 19)]),
    ("pg_shadow", &[("usename", 19), ("usesysid", 26)]),
    ("pg_shdepend", &[("dbid", 26), ("classid", 26), ("objid", 26), ("refclassid", 26), ("refobjid", 26), ("deptype", 18)]),
    ("pg_shdescription", &[("objoid", 26), ("classoid", 26)]),
    ("pg_shseclabel", &[("objoid", 26), ("classoid", 26)]),
    ("pg_stat_activity", &[("datid", 26), ("datname", 19), ("usesysid", 26), ("usename", 19), ("backend_xid", 28), ("backend_xmin", 28)]),
    ("pg_stat_all_indexes", &[("relid", 26), ("indexrelid", 26), ("schemaname", 19), ("relname", 19), ("indexrelname", 19)]),
    ("pg_stat_all_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_stat_database", &[("datid", 26), ("datname", 19)]),
    ("pg_stat_database_conflicts", &[("datid", 26), ("datname", 19)]),
    ("pg_stat_progress_analyze", &[("datid", 26), ("datname", 19), ("relid", 26), ("current_child_table_relid", 26)]),
    ("pg_stat_progress_cluster", &[("datid", 26), ("datname", 19), ("relid", 26), ("cluster_index_relid", 26)]),
    ("pg_stat_progress_copy", &[("datid", 26), ("datname", 19), ("relid", 26)]),
    ("pg_stat_progress_create_index", &[("datid", 26), ("datname", 19), ("relid", 26), ("index_relid", 26)]),
    ("pg_stat_progress_vacuum", &[("datid", 26), ("datname", 19), ("relid", 26)]),
    ("pg_stat_replication", &[("usesysid", 26), ("usename", 19), ("backend_xmin", 28)]),
    ("pg_stat_subscription", &[("subid", 26), ("subname", 19), ("relid", 26)]),
    ("pg_stat_subscription_stats", &[("subid", 26), ("subname", 19)]),
    ("pg_stat_sys_indexes", &[("relid", 26), ("indexrelid", 26), ("schemaname", 19), ("relname", 19), ("indexrelname", 19)]),
    ("pg_stat_sys_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_stat_user_functions", &[("funcid", 26), ("schemaname", 19), ("funcname", 19)]),
    ("pg_stat_user_indexes", &[("relid", 26), ("indexrelid", 26), ("schemaname", 19), ("relname", 19), ("indexrelname", 19)]),
    ("pg_stat_user_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_stat_xact_all_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_stat_xact_sys_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_stat_xact_user_functions", &[("funcid", 26), ("schemaname", 19), ("funcname", 19)]),
    ("pg_stat_xact_user_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statio_all_indexes", &[("relid", 26), ("indexrelid", 26), ("schemaname", 19), ("relname", 19), ("indexrelname", 19)]),
    ("pg_statio_all_sequences", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statio_all_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statio_sys_indexes", &[("relid", 26), ("indexrelid", 26), ("schemaname", 19), ("relname", 19), ("indexrelname", 19)]),
    ("pg_statio_sys_sequences", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statio_sys_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statio_user_indexes", &[("relid", 26), ("indexrelid", 26), ("schemaname", 19), ("relname", 19), ("indexrelname", 19)]),
    ("pg_statio_user_sequences", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statio_user_tables", &[("relid", 26), ("schemaname", 19), ("relname", 19)]),
    ("pg_statistic", &[("starelid", 26), ("staop1", 26), ("staop2", 26), ("staop3", 26), ("staop4", 26), ("staop5", 26), ("stacoll1", 26), ("stacoll2", 26), ("stacoll3", 26), ("stacoll4", 26), ("stacoll5", 26)]),
    ("pg_statistic_ext", &[("oid", 26), ("stxrelid", 26), ("stxname", 19), ("stxnamespace", 26), ("stxowner", 26), ("stxexprs", 194)]),
    ("pg_statistic_ext_data", &[("stxoid", 26)]),
    ("pg_stats", &[("schemaname", 19), ("tablename", 19), ("attname", 19)]),
    ("pg_stats_ext", &[("schemaname", 19), ("tablename", 19), ("statistics_schemaname", 19), ("statistics_name", 19), ("statistics_owner", 19)]),
    ("pg_stats_ext_exprs", &[("schemaname", 19), ("tablename", 19), ("statistics_schemaname", 19), ("statistics_name", 19), ("statistics_owner", 19)]),
    ("pg_subscription", &[("oid", 26), ("subdbid", 26), ("subname", 19), ("subowner", 26), ("subtwophasestate", 18), ("subslotname", 19)]),
    ("pg_subscription_rel", &[("srsubid", 26), ("srrelid", 26), ("srsubstate", 18)]),
    ("pg_tables", &[("schemaname", 19), ("tablename", 19), ("tableowner", 19), ("tablespace", 19)]),
    ("pg_tablespace", &[("oid", 26), ("spcname", 19), ("spcowner", 26)]),
    ("pg_transform", &[("oid", 26), ("trftype", 26), ("trflang", 26)]),
    ("pg_trigger", &[("oid", 26), ("tgrelid", 26), ("tgparentid", 26), ("tgname", 19), ("tgfoid", 26), ("tgenabled", 18), ("tgconstrrelid", 26), ("tgconstrindid", 26), ("tgconstraint", 26), ("tgqual", 194), ("tgoldtable", 19), ("tgnewtable", 19)]),
    ("pg_ts_config", &[("oid", 26), ("cfgname", 19), ("cfgnamespace", 26), ("cfgowner", 26), ("cfgparser", 26)]),
    ("pg_ts_config_map", &[("mapcfg", 26), ("mapdict", 26)]),
    ("pg_ts_dict", &[("oid", 26), ("dictname", 19), ("dictnamespace", 26), ("dictowner", 26), ("dicttemplate", 26)]),
    ("pg_ts_parser", &[("oid", 26), ("prsname", 19), ("prsnamespace", 26)]),
    ("pg_ts_template", &[("oid", 26), ("tmplname", 19), ("tmplnamespace", 26)]),
    ("pg_type", &[("oid", 26), ("typname", 19), ("typnamespace", 26), ("typowner", 26), ("typtype", 18), ("typcategory", 18), ("typdelim", 18), ("typrelid", 26), ("typelem", 26), ("typarray", 26), ("typalign", 18), ("typstorage", 18), ("typbasetype", 26), ("typcollation", 26), ("typdefaultbin", 194)]),
    ("pg_user", &[("usename", 19), ("usesysid", 26)]),
    ("pg_user_mapping", &[("oid", 26), ("umuser", 26), ("umserver", 26)]),
    ("pg_user_mappings", &[("umid", 26), ("srvid", 26), ("srvname", 19), ("umuser", 26), ("usename", 19)]),
    ("pg_views", &[("schemaname", 19), ("viewname", 19), ("viewowner", 19)]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_are_sorted_for_the_binary_search() {
        for relations in [PG_CATALOG, INFORMATION_SCHEMA] {
            assert!(relations.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn finds_a_column_s_declared_type() {
        assert_eq!(declared_type("pg_catalog", "pg_class", "relname"), Some(19));
        assert_eq!(declared_type("pg_catalog", "pg_class", "relkind"), Some(18));
        assert_eq!(
            declared_type("pg_catalog", "pg_class", "relnamespace"),
            Some(26)
        );
        assert_eq!(declared_type("pg_catalog", "pg_class", "relnatts"), None);
        assert_eq!(
            declared_type("information_schema", "columns", "data_type"),
            Some(1043)
        );
        assert_eq!(declared_type("public", "pg_class", "relname"), None);
    }
}
