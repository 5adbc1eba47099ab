// The two-level cause list for closing an incident: category (CauseCategory in common.proto),
// then a sub-cause code stored as text in Cause.sub_cause. Codes are stable English words so
// reports can group on them; labels live in i18n.js under "sub.<code>".
export const causes = {
  CAUSE_EXTERNAL: ['power_cut', 'water_ingress', 'fire_nearby', 'extreme_weather'],
  CAUSE_HUMAN: ['misuse', 'vandalism', 'overload', 'door_obstructed'],
  CAUSE_DOOR_SYSTEM: ['door_lock_fault', 'door_operator_fault', 'landing_door_fault', 'door_sensor_fault'],
  CAUSE_OTHER: ['controller_fault', 'traction_fault', 'brake_fault', 'unknown'],
};

export const cancelReasons = ['CANCEL_FALSE_ALARM', 'CANCEL_SELF_RECOVERED', 'CANCEL_DUPLICATE'];
export const followUpResults = ['FOLLOW_UP_SATISFIED', 'FOLLOW_UP_DISSATISFIED', 'FOLLOW_UP_UNREACHABLE'];
export const sources = ['SOURCE_PHONE', 'SOURCE_PROPERTY', 'SOURCE_MAINTENANCE', 'SOURCE_POLICE_110',
  'SOURCE_FIRE_119', 'SOURCE_APP'];
