// C-Eval's 52 subjects: the Chinese name its official prompt uses ("以下是中国关于{name}考试的
// 单项选择题…") and the category its leaderboard averages over.
export type CevalCategory = 'STEM' | 'Social Science' | 'Humanities' | 'Other';

const S = 'STEM', SS = 'Social Science', H = 'Humanities', O = 'Other';

export const CEVAL_SUBJECTS: Record<string, { zh: string; category: CevalCategory }> = Object.fromEntries(([
  ['computer_network', '计算机网络', S], ['operating_system', '操作系统', S], ['computer_architecture', '计算机组成', S],
  ['college_programming', '大学编程', S], ['college_physics', '大学物理', S], ['college_chemistry', '大学化学', S],
  ['advanced_mathematics', '高等数学', S], ['probability_and_statistics', '概率统计', S], ['discrete_mathematics', '离散数学', S],
  ['electrical_engineer', '注册电气工程师', S], ['metrology_engineer', '注册计量师', S], ['high_school_mathematics', '高中数学', S],
  ['high_school_physics', '高中物理', S], ['high_school_chemistry', '高中化学', S], ['high_school_biology', '高中生物', S],
  ['middle_school_mathematics', '初中数学', S], ['middle_school_biology', '初中生物', S], ['middle_school_physics', '初中物理', S],
  ['middle_school_chemistry', '初中化学', S], ['veterinary_medicine', '兽医学', S],
  ['college_economics', '大学经济学', SS], ['business_administration', '工商管理', SS], ['marxism', '马克思主义基本原理', SS],
  ['mao_zedong_thought', '毛泽东思想和中国特色社会主义理论体系概论', SS], ['education_science', '教育学', SS],
  ['teacher_qualification', '教师资格', SS], ['high_school_politics', '高中政治', SS], ['high_school_geography', '高中地理', SS],
  ['middle_school_politics', '初中政治', SS], ['middle_school_geography', '初中地理', SS],
  ['modern_chinese_history', '近代史纲要', H], ['ideological_and_moral_cultivation', '思想道德修养与法律基础', H], ['logic', '逻辑学', H],
  ['law', '法学', H], ['chinese_language_and_literature', '中国语言文学', H], ['art_studies', '艺术学', H],
  ['professional_tour_guide', '导游资格', H], ['legal_professional', '法律职业资格', H], ['high_school_chinese', '高中语文', H],
  ['high_school_history', '高中历史', H], ['middle_school_history', '初中历史', H],
  ['civil_servant', '公务员', O], ['sports_science', '体育学', O], ['plant_protection', '植物保护', O], ['basic_medicine', '基础医学', O],
  ['clinical_medicine', '临床医学', O], ['urban_and_rural_planner', '注册城乡规划师', O], ['accountant', '注册会计师', O],
  ['fire_engineer', '注册消防工程师', O], ['environmental_impact_assessment_engineer', '环境影响评价工程师', O], ['tax_accountant', '税务师', O],
  ['physician', '医师资格', O],
] as const).map(([k, zh, category]) => [k, { zh, category: category as CevalCategory }]));
